using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using RedisSidecars.Testing;

namespace RedisSidecars.Demo;

/// <summary>A failure the demo reports (exit 1), with the tails of the logs.</summary>
public sealed class DemoFailure(string message) : Exception(message);

/// <summary>
/// Everything the demo runs, at fixed documented addresses: Redis on 127.0.1.1-3:6379, Sentinels on
/// 127.0.2.1-3:26379 (a <see cref="RedisSet"/> on loopback block 0, configs written by the published redis-init),
/// the Kubernetes API double as its own process on 127.0.3.1:8001, and one published redis-sidecar per Redis pod
/// (HTTP on :9181-9183). Every long-running child is started in its own session (setsid), so a Ctrl-C in the
/// terminal reaches only the demo, which then stops them all; the pids also go to $DEMO_PIDFILE so
/// scripts/demo.sh can clean up even if the demo itself is killed.
/// </summary>
public sealed class Cluster : IAsyncDisposable
{
    public const string Namespace = "demo";
    public const string ApiHost = "127.0.3.1";
    public const int ApiPort = 8001;
    public static readonly int[] SidecarPorts = [9181, 9182, 9183];
    /// <summary>Each sidecar's handover port (HANDOVER_PORT): all three share 127.0.0.1, and it must differ from every HTTP_PORT.</summary>
    public static readonly int[] HandoverPorts = [9191, 9192, 9193];
    public static string ApiBase => $"http://{ApiHost}:{ApiPort}";

    static readonly string? SetsidPath = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : File.Exists("/bin/setsid") ? "/bin/setsid" : null;
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
            .Concat(SidecarPorts.Select(p => (IPAddress.Any, p)));
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

    /// <summary>dotnet KubeApiDouble.dll --listen 127.0.3.1:8001 …, waits for its "listening on" line.</summary>
    public async Task StartApiAsync(CancellationToken ct)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "KubeApiDouble.dll");
        if (!File.Exists(dll) || !File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
            throw new DemoFailure($"the API double is not built next to the demo ({dll}): build demo/RedisSidecars.Demo");
        List<string> args = [dll, "--listen", $"{ApiHost}:{ApiPort}", "--kubeconfig", Kubeconfig, "--namespace", Namespace,
            "--pods", string.Join(",", Set.Redis.Select(n => n.Name)), "--readiness-gate", SidecarSet.Condition];
        foreach (var n in Set.Redis) args.AddRange(["--label", $"{n.Name}:app=redis"]);
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
        n.Process = Launch(n.Kind == NodeKind.Redis ? Tools.RedisServer : Tools.RedisSentinel, [n.ConfPath], env: null, log: null);
        await using var c = new Resp(n.Ip, n.Port);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try { if (await c.ExecAsync(TimeSpan.FromSeconds(1), ct, "PING") as string == "PONG") break; }
            catch (RespUnavailableException) { }
            if (n.Process.HasExited) throw new DemoFailure($"{n.Name} exited ({n.Process.ExitCode}): {Text.Tail(n.LogPath, 8).Trim()}");
            if (sw.Elapsed > TimeSpan.FromSeconds(15)) throw new DemoFailure($"{n.Name} does not answer PING: {Text.Tail(n.LogPath, 8).Trim()}");
            await Task.Delay(50, ct);
        }
        return init.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
    }

    /// <summary>The published redis-sidecar for pod i, with the environment SidecarSet gives it, KUBECONFIG → the double.</summary>
    public void StartSidecar(int i)
    {
        var n = Set.Redis[i];
        var env = Set.EnvFor(n);
        env["LOCAL_REDIS"] = n.Address;
        env["HTTP_PORT"] = SidecarPorts[i].ToString(CultureInfo.InvariantCulture);
        env["HANDOVER_PORT"] = HandoverPorts[i].ToString(CultureInfo.InvariantCulture);
        foreach (var (k, v) in SidecarSet.DefaultSidecarEnv) env[k] = v;
        env["KUBECONFIG"] = Kubeconfig;
        env["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
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

    Process Launch(string file, IReadOnlyList<string> args, IDictionary<string, string>? env, string? log, Action<string>? onLine = null)
    {
        var psi = new ProcessStartInfo(SetsidPath ?? file)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (SetsidPath is not null) psi.ArgumentList.Add(file); // same pid: a child of the demo is not a group leader, so setsid just execs
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null)
        {
            psi.Environment.Clear();
            foreach (var (k, v) in env) psi.Environment[k] = v;
        }
        var p = Process.Start(psi) ?? throw new DemoFailure($"cannot start {file}");
        ProcessRegistry.Track(p);
        lock (started) started.Add(p);
        Record($"pid {p.Id} {StartTime(p.Id)}");
        var writer = log is null ? null : new StreamWriter(log, append: true) { AutoFlush = true };
        void OnData(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            onLine?.Invoke(e.Data);
            if (writer is not null) lock (writer) { try { writer.WriteLine(e.Data); } catch (ObjectDisposedException) { } }
        }
        p.OutputDataReceived += OnData;
        p.ErrorDataReceived += OnData;
        p.EnableRaisingEvents = true;
        if (writer is not null) p.Exited += (_, _) => { lock (writer) writer.Dispose(); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
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
