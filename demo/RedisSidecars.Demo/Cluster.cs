using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using RedisSidecars.Core.Settings;
using RedisSidecars.Testing;

namespace RedisSidecars.Demo;

/// <summary>A failure the demo reports (exit 1), with the tails of the logs.</summary>
public sealed class DemoFailure(string message) : Exception(message);

/// <summary>
/// Everything the demo runs, at fixed documented addresses: Redis on 127.0.1.1-3:6379, Sentinels on
/// 127.0.2.1-3:26379 (a <see cref="RedisSet"/> on loopback block 0, configs written by the published redis-init),
/// the Kubernetes API double as its own process on 127.0.3.1:8001 (probing each sidecar's /readyz as the kubelet
/// would), and one published redis-sidecar per Redis pod on that pod's own address, as in a pod: 127.0.1.x:9180
/// (/livez /readyz /metrics) and 127.0.1.x:9181 (/handover). Every long-running child is started in its own session
/// (setsid), so a Ctrl-C in the terminal reaches only the demo, which then stops them all; the pids also go to
/// $DEMO_PIDFILE so scripts/demo.sh can clean up even if the demo itself is killed.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    public const string Namespace = "demo";
    public const string ApiHost = "127.0.3.1";
    public const int ApiPort = 8001;
    public static string ApiBase => $"http://{ApiHost}:{ApiPort}";

    /// <summary>A sidecar's /livez /readyz /metrics (HTTP_PORT, the default, on its pod's address).</summary>
    public static Uri SidecarUrl(Node n, string path) => new($"http://{n.Ip}:{SidecarDefaults.HttpPort}{path}");

    /// <summary>A sidecar's /handover (HANDOVER_PORT, the default, on its pod's address), as the preStop hook calls it.</summary>
    public static Uri HandoverUrl(Node n) => new($"http://{n.Ip}:{SidecarDefaults.HandoverPort}/handover");
    readonly string? pidFile = Environment.GetEnvironmentVariable("DEMO_PIDFILE");
    readonly List<Process> started = [];
    readonly Process?[] sidecars;
    Process? api;

    public Cluster()
    {
        Set = new RedisSet(redisCount: 3, sentinelCount: 3, extraEnv: new Dictionary<string, string> { ["POD_NAMESPACE"] = Namespace }, block: 0);
        sidecars = new Process?[Set.Redis.Count];
        Kubeconfig = Path.Combine(Set.Root, "kubeconfig");
        Record($"dir {Set.Root}");
    }

    public RedisSet Set { get; }
    public string Kubeconfig { get; }
    public string ApiLog => Path.Combine(Set.Root, "kube-api-double.log");
    public static string SidecarLog(Node n) => Path.Combine(n.Dir, "sidecar.log");

    /// <summary>Every fixed address must be free: a clear error beats a half-started demo.</summary>
    public void CheckAddressesFree()
    {
        var endpoints = Set.Redis.Concat(Set.Sentinels).Select(n => (IPAddress.Parse(n.Ip), n.Port))
            .Append((IPAddress.Parse(ApiHost), ApiPort))
            .Concat(Set.Redis.SelectMany(n => new[] { (IPAddress.Parse(n.Ip), SidecarDefaults.HttpPort), (IPAddress.Parse(n.Ip), SidecarDefaults.HandoverPort) }));
        foreach (var (ip, port) in endpoints)
        {
            try
            {
                var l = new TcpListener(ip, port);
                l.Start();
                l.Stop();
            }
            catch (SocketException e)
            {
                throw new DemoFailure($"{ip}:{port} cannot be bound ({e.SocketErrorCode}): is another demo still running (scripts/demo.sh --keep)? "
                    + "Stop it with Ctrl-C in its terminal, or see what holds the port: ss -ltnp");
            }
        }
    }

    /// <summary>dotnet KubeApiDouble.dll --listen 127.0.3.1:8001 … --readiness-probe redis-N=http://127.0.1.x:9180/readyz, waits for its "listening on" line.</summary>
    public async Task StartApiAsync(CancellationToken ct)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "KubeApiDouble.dll");
        if (!File.Exists(dll) || !File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
            throw new DemoFailure($"the API double is not built next to the demo ({dll}): build demo/RedisSidecars.Demo");
        List<string> args = [dll, "--listen", $"{ApiHost}:{ApiPort}", "--kubeconfig", Kubeconfig, "--namespace", Namespace,
            "--pods", string.Join(",", Set.Redis.Select(n => n.Name)), "--readiness-gate", SidecarSet.Condition];
        foreach (var n in Set.Redis) args.AddRange(["--label", $"{n.Name}:app=redis", "--readiness-probe", $"{n.Name}={SidecarUrl(n, "/readyz")}"]);
        // The manifests' readinessProbe on /readyz, as SidecarSet gives the tests' kubelet.
        args.AddRange(["--probe-period-ms", SidecarSet.ReadinessProbe.Period.TotalMilliseconds.ToString(CultureInfo.InvariantCulture),
            "--probe-failure-threshold", SidecarSet.ReadinessProbe.FailureThreshold.ToString(CultureInfo.InvariantCulture)]);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        api = Launch(DotnetHost(), args, env: null, ApiLog, line =>
        {
            if (line.StartsWith("listening on ", StringComparison.Ordinal)) listening.TrySetResult();
        });
        api.Exited += (_, _) => listening.TrySetException(new DemoFailure($"the API double exited ({api.ExitCode}): {Text.Tail(ApiLog, 5).Trim()}"));
        try { await listening.Task.WaitAsync(TimeSpan.FromSeconds(30), ct); }
        catch (TimeoutException) { throw new DemoFailure($"the API double did not start listening within 30 s: {Text.Tail(ApiLog, 5).Trim()}"); }
    }

    /// <summary>The published redis-init writes the config (as the pod's init container would), then the server starts.</summary>
    public async Task<string> StartNodeAsync(Node n, CancellationToken ct)
    {
        var init = await Set.InitAsync(n).WaitAsync(ct);
        if (init.Code != 0)
            throw new DemoFailure($"redis-init for {n.Name} exited {init.Code}: {init.Stderr.Trim()}");
        Set.StartServer(n, newSession: true);
        Record(n.Process!);
        try
        {
            await Set.WaitUntilAsync(async () => n.Process!.HasExited ? throw new DemoFailure($"{n.Name} exited ({n.Process.ExitCode}): {Text.Tail(n.LogPath, 8).Trim()}")
                : await Set.PingAsync(n), TimeSpan.FromSeconds(15), $"{n.Name} answers PING", ct, poll: TimeSpan.FromMilliseconds(50));
        }
        catch (TimeoutException) { throw new DemoFailure($"{n.Name} does not answer PING: {Text.Tail(n.LogPath, 8).Trim()}"); }
        return init.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
    }

    /// <summary>The published redis-sidecar for pod i, with the environment SidecarSet gives it, KUBECONFIG → the double.</summary>
    public void StartSidecar(int i)
    {
        var n = Set.Redis[i];
        var env = Set.EnvFor(n);
        env["LOCAL_REDIS"] = n.Address;
        env["HTTP_HOST"] = n.Ip; // HTTP_PORT 9180 and HANDOVER_PORT 9181: the defaults, on the pod's own address
        foreach (var (k, v) in SidecarSet.DefaultSidecarEnv) env[k] = v;
        env["KUBECONFIG"] = Kubeconfig;
        sidecars[i] = Launch(Tools.RedisSidecar, [], env, SidecarLog(n));
    }

    /// <summary>A started sidecar that has exited (they never should during the demo), as an error message; else null.</summary>
    public string? ExitedSidecar()
    {
        for (var i = 0; i < sidecars.Length; i++)
            if (sidecars[i] is { HasExited: true } p)
                return $"{Set.Redis[i].Name}'s redis-sidecar exited ({p.ExitCode}): {Text.Tail(SidecarLog(Set.Redis[i]), 3).Trim()}";
        return null;
    }

    Process Launch(string file, IReadOnlyList<string> args, IDictionary<string, string>? env, string? log, Action<string>? onLine = null) =>
        Record(Programs.Start(file, args, env, log, onLine, newSession: true));

    Process Record(Process p)
    {
        lock (started) started.Add(p);
        Record($"pid {p.Id} {StartTime(p.Id)}");
        return p;
    }

    static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "dotnet"))) return Path.Combine(dir, "dotnet");
        throw new DemoFailure("cannot find the dotnet host to start the API double");
    }

    /// <summary>Field 22 of /proc/PID/stat: with the pid, identifies the process even if the pid is reused later.</summary>
    static string StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        }
        catch (IOException) { return "0"; }
    }

    void Record(string line)
    {
        if (pidFile is null) return;
        try { File.AppendAllText(pidFile, line + "\n"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public string Diagnostics()
    {
        var sb = new System.Text.StringBuilder(Set.Diagnostics());
        static string Lines(string text) => text.EndsWith('\n') ? text : text + "\n";
        foreach (var n in Set.Redis) sb.Append($"--- {n.Name} sidecar\n").Append(Lines(Text.Tail(SidecarLog(n), 12)));
        sb.Append("--- kube-api-double\n").Append(Lines(Text.Tail(ApiLog, 8)));
        return sb.ToString();
    }

    /// <summary>Sidecars first (killed: a SIGTERM would start a handover), then the API double, then every server; the temp dir goes last.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var p in sidecars.Append(api)) await StopAsync(p, p == api ? Signals.SIGTERM : Signals.SIGKILL);
        await Set.DisposeAsync();
        List<Process> all;
        lock (started) all = [.. started];
        foreach (var p in all) await StopAsync(p, Signals.SIGKILL); // anything else started (none expected)
        foreach (var p in all) p.Dispose();
        if (Directory.Exists(Set.Root)) try { Directory.Delete(Set.Root, recursive: true); } catch (IOException) { }
    }

    static async Task StopAsync(Process? p, int signal)
    {
        if (p is null) return;
        try
        {
            if (p.HasExited) return;
            Signals.Send(p.Id, Signals.SIGCONT);
            Signals.Send(p.Id, signal);
            try { await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(3)); }
            catch (TimeoutException) { p.Kill(); await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(3)); }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception) { }
    }

    public int Running => started.Count(p => { try { return !p.HasExited; } catch (InvalidOperationException) { return false; } });
}
