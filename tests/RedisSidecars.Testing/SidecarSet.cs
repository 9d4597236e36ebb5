using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RedisSidecars.Core.Settings;
using RedisSidecars.KubeApiDouble;

namespace RedisSidecars.Testing;

/// <summary>
/// A <see cref="RedisSet"/> plus the API server double holding its pods, and one published
/// redis-sidecar process per Redis pod, each on its own HTTP port.
/// </summary>
public sealed class SidecarSet : IAsyncDisposable
{
    public const string Namespace = "it";
    public const string Label = SidecarDefaults.MasterLabelName;
    public const string Master = SidecarDefaults.MasterLabelValue;
    public const string Condition = SidecarDefaults.ReadinessConditionType;
    public const string StatefulSet = "redis";
    /// <summary>The Role (and service account) the manifests give the sidecar.</summary>
    public const string ServiceAccount = "redis-sidecar";

    /// <summary>The manifests' readinessProbe on the sidecar's /readyz (manifests/base/redis-statefulset.yaml), as the kubelet runs it.</summary>
    public static readonly ProbeSettings ReadinessProbe = new(Period: TimeSpan.FromSeconds(1), Timeout: TimeSpan.FromSeconds(1), SuccessThreshold: 1, FailureThreshold: 2);

    readonly Process?[] sidecars;
    readonly List<StreamWriter> logs = [];
    readonly Dictionary<string, string> sidecarEnv;
    int[]? uids;

    SidecarSet(RedisSet set, KubeApiServer api, string kubeconfig, Dictionary<string, string> sidecarEnv)
    {
        Set = set;
        Api = api;
        Kubeconfig = kubeconfig;
        this.sidecarEnv = sidecarEnv;
        sidecars = new Process?[set.Redis.Count];
        // Each sidecar listens on its own pod's loopback address with the default port: no port is ever shared,
        // unlike "free" ephemeral ports, which another socket can take before the sidecar binds them.
        HttpPorts = set.Redis.Select(_ => SidecarDefaults.HttpPort).ToArray();
        HandoverPorts = set.Redis.Select(_ => SidecarDefaults.HandoverPort).ToArray();
    }

    /// <summary>The sidecar timings every set uses (on top of <see cref="RedisSet.EnvFor"/>); the demo reuses them.</summary>
    public static IReadOnlyDictionary<string, string> DefaultSidecarEnv { get; } = new Dictionary<string, string>
    {
        ["RECONCILE_INTERVAL_MS"] = "500",
        ["SENTINEL_LOSS_GRACE_MS"] = "3000",
        ["HANDOVER_TIMEOUT_MS"] = "15000",
        ["MASTER_LABEL_WAIT_MS"] = "5000",
    };

    public RedisSet Set { get; }
    public KubeApiServer Api { get; }
    public string Kubeconfig { get; }
    public int[] HttpPorts { get; }
    public int[] HandoverPorts { get; }

    /// <summary>Starts Redis + Sentinel (configs from redis-init), the API double with the pods, and the sidecars.</summary>
    /// <param name="sidecarUids">Run each sidecar under a uid of its own (<see cref="SidecarUid"/>; needs root), with
    /// private copies of the files it reads, so that a <see cref="LoopbackPartition"/> can cut one sidecar by owner: the
    /// sidecars connect from 127.0.0.1, like every test client.</param>
    public static async Task<SidecarSet> StartAsync(string? password = null, IDictionary<string, string>? sidecarEnv = null, bool startSidecars = true,
        bool sidecarUids = false)
    {
        var set = new RedisSet(password: password);
        var api = await KubeApiServer.StartAsync(IPAddress.Loopback);
        // As the StatefulSet controller leaves them: pods with the set's labels, revision and readiness gate.
        api.AddStatefulSet(Namespace, StatefulSet, set.Redis.Count, new Dictionary<string, string> { ["app"] = "redis" }, [Condition]);
        var kubeconfig = api.WriteKubeconfig(Path.Combine(set.Root, "kubeconfig"), Namespace, ServiceAccount);
        // The sidecars get exactly the manifests' Role, as on a real cluster.
        api.EnforceRole(RoleRules.FromYaml(File.ReadAllText(Path.Combine(Tools.RepoRoot, "manifests", "base", "rbac.yaml")), ServiceAccount), ServiceAccount);
        var env = new Dictionary<string, string>(DefaultSidecarEnv) { ["KUBECONFIG"] = kubeconfig };
        foreach (var (k, v) in sidecarEnv ?? new Dictionary<string, string>()) env[k] = v;
        var s = new SidecarSet(set, api, kubeconfig, env);
        try
        {
            if (sidecarUids)
            {
                await LoopbackPartition.EnsureUsableAsync();
                // Unique across processes as the block is; far above any account a system creates.
                s.uids = set.Redis.Select(n => 3_000_000 + set.Block * 16 + n.Ordinal).ToArray();
                // The sidecars reach their private copies through the set's directory (traverse only); the kubeconfig there stays private too.
                File.SetUnixFileMode(set.Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherExecute);
                File.SetUnixFileMode(kubeconfig, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            await set.StartAllAsync();
            if (startSidecars) for (var i = 0; i < set.Redis.Count; i++) s.StartSidecar(i);
            return s;
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    public Dictionary<string, string> EnvFor(int i)
    {
        var n = Set.Redis[i];
        var env = Set.EnvFor(n);
        env["LOCAL_REDIS"] = n.Address;
        env["HTTP_HOST"] = n.Ip;
        env["HTTP_PORT"] = HttpPorts[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["HANDOVER_PORT"] = HandoverPorts[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (k, v) in sidecarEnv) env[k] = v;
        return env;
    }

    public string SidecarLog(int i) => Path.Combine(Set.Redis[i].Dir, "sidecar.log");

    /// <summary>The uid sidecar <paramref name="i"/> runs under, or null (the test's own) unless started with <c>sidecarUids</c>.</summary>
    public int? SidecarUid(int i) => uids?[i];

    public void StartSidecar(int i)
    {
        var env = EnvFor(i);
        var psi = new ProcessStartInfo(Tools.RedisSidecar) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (SidecarUid(i) is { } uid)
        {
            psi.FileName = "/usr/bin/setpriv";
            foreach (var a in new[] { $"--reuid={uid}", $"--regid={uid}", "--clear-groups", Tools.RedisSidecar }) psi.ArgumentList.Add(a);
            OwnCopies(env, Path.Combine(Set.Redis[i].Dir, "sidecar-files"), uid, "KUBECONFIG", "REDIS_PASSWORD_FILE", "SENTINEL_PASSWORD_FILE");
        }
        psi.Environment.Clear();
        psi.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        foreach (var (k, v) in env) psi.Environment[k] = v;
        var p = Process.Start(psi)!;
        ProcessRegistry.Track(p);
        var log = new StreamWriter(SidecarLog(i), append: true) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => Append(log, e.Data);
        p.ErrorDataReceived += (_, e) => Append(log, e.Data);
        // Kept open until DisposeAsync: disposing it when the process exits could drop its last lines (the error it exited with).
        lock (logs) logs.Add(log);
        p.EnableRaisingEvents = true;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        sidecars[i] = p;
        // The kubelet probes the sidecar's /readyz; the pod's Ready condition (and so the Services' endpoints) follows.
        Api.ProbeReadiness(Namespace, Set.Redis[i].Name, new Uri($"http://{Set.Redis[i].Ip}:{HttpPorts[i]}/readyz"), ReadinessProbe);
    }

    /// <summary>Points the file settings at copies that only <paramref name="uid"/> can read (as a mounted Secret is the pod's own).</summary>
    static void OwnCopies(Dictionary<string, string> env, string dir, int uid, params string[] fileSettings)
    {
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        FileOwner.Set(dir, uid);
        foreach (var name in fileSettings)
        {
            if (!env.TryGetValue(name, out var source)) continue;
            var copy = Path.Combine(dir, Path.GetFileName(source));
            File.Copy(source, copy, overwrite: true);
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            FileOwner.Set(copy, uid);
            env[name] = copy;
        }
    }

    static void Append(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log)
        {
            try { log.WriteLine(line); }
            catch (ObjectDisposedException) { } // a line that arrives after the set was disposed
        }
    }

    public Process? Sidecar(int i) => sidecars[i];

    public void KillSidecar(int i)
    {
        if (sidecars[i] is { } p && !p.HasExited) { p.Kill(); p.WaitForExit(5000); }
    }

    /// <summary>SIGTERM, as the kubelet sends it; waits for the exit.</summary>
    public async Task<int> TerminateSidecarAsync(int i, TimeSpan timeout)
    {
        var p = sidecars[i]!;
        Signals.Send(p.Id, Signals.SIGTERM);
        await p.WaitForExitAsync().WaitAsync(timeout);
        return p.ExitCode;
    }

    public string? LabelOf(int i) => Api.GetLabel(Namespace, Set.Redis[i].Name, Label);

    public string? ConditionOf(int i)
    {
        var pod = Api.GetPod(Namespace, Set.Redis[i].Name);
        var conditions = pod?["status"]?["conditions"] as JsonArray;
        return conditions?.OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == Condition)?["status"]?.GetValue<string>();
    }

    public int[] MasterLabelled() => Enumerable.Range(0, Set.Redis.Count).Where(i => LabelOf(i) == Master).ToArray();

    /// <summary>The master Service's endpoints as kube-proxy would route: pods labelled master and Ready.</summary>
    public EndpointsTimeline MasterEndpoints() => Api.Endpoints(Namespace, $"{Label}={Master}");

    /// <summary>Where a client of the master Service connects now: the one ready endpoint, or null.</summary>
    public Node? ServiceEndpoint() => MasterEndpoints().ReadyAt(Api.Timeline.Elapsed) is [var pod] ? Set.Redis.Single(n => n.Name == pod) : null;

    /// <summary>A request to sidecar <paramref name="i"/>'s probe/metrics port (HTTP_PORT).</summary>
    public Task<(int Code, string Body)> HttpAsync(int i, string method, string path, TimeSpan? timeout = null) =>
        RequestAsync(i, HttpPorts[i], method, path, timeout);

    /// <summary><c>POST /handover</c> on sidecar <paramref name="i"/>'s own handover port (HANDOVER_PORT), as the preStop hook calls it.</summary>
    public Task<(int Code, string Body)> HandoverAsync(int i, TimeSpan? timeout = null, string method = "POST") =>
        RequestAsync(i, HandoverPorts[i], method, "/handover", timeout ?? TimeSpan.FromSeconds(40));

    async Task<(int Code, string Body)> RequestAsync(int i, int port, string method, string path, TimeSpan? timeout)
    {
        using var http = new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(new HttpMethod(method), $"http://{Set.Redis[i].Ip}:{port}{path}");
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Labels as the Sentinels say: the agreed master labelled master and ready, the others replica.</summary>
    public async Task WaitForLabelsToMatchSentinelsAsync(TimeSpan timeout, string what)
    {
        await Set.WaitUntilAsync(async () =>
        {
            var master = await Set.AgreedMasterAsync();
            if (master is null) return false;
            for (var i = 0; i < Set.Redis.Count; i++)
            {
                var isMaster = Set.Redis[i].Address == master;
                if ((LabelOf(i) == Master) != isMaster) return false;
                if (isMaster && ConditionOf(i) != "True") return false;
            }
            return true;
        }, timeout, what + "\n" + Diagnostics());
    }

    public string Diagnostics()
    {
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < Set.Redis.Count; i++)
        {
            sb.AppendLine($"--- sidecar {i} label={LabelOf(i)} condition={ConditionOf(i)}");
            sb.Append(Text.Tail(SidecarLog(i), 15));
        }
        return sb.ToString();
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < sidecars.Length; i++)
        {
            if (sidecars[i] is { } p)
            {
                try { if (!p.HasExited) { p.Kill(); await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)); } }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
                p.Dispose();
            }
        }
        lock (logs)
        {
            foreach (var log in logs) lock (log) log.Dispose();
            logs.Clear();
        }
        await Api.DisposeAsync();
        await Set.DisposeAsync();
    }
}

static partial class FileOwner
{
    public static void Set(string path, int uid)
    {
        if (Chown(path, uid, uid) != 0)
            throw new IOException($"chown {uid}:{uid} {path} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}): running each sidecar under its own uid needs root");
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "chown", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Chown(string path, int owner, int group);
}
