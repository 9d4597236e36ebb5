using System.Diagnostics;
using System.Text;

namespace RedisSidecars.Testing;

/// <summary>Where the real servers and our published binaries are. Missing = a test failure, never a skip.</summary>
public static class Tools
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string RedisServer => Which("redis-server");
    public static string RedisSentinel => Which("redis-sentinel");

    public static string RedisInit => Published("REDIS_INIT_BIN", "InitConfig", "redis-init");
    public static string RedisSidecar => Published("REDIS_SIDECAR_BIN", "SentinelSidecar", "redis-sidecar");

    static string Published(string envVar, string project, string name)
    {
        var path = Environment.GetEnvironmentVariable(envVar)
            ?? Path.Combine(RepoRoot, "artifacts", "publish", project, "release_linux-x64", name);
        if (!File.Exists(path))
            throw new InvalidOperationException(
                $"{name} is not published at {path}: run `dotnet publish src/{project} -c Release -r linux-x64` (scripts/test.sh does) or set {envVar}");
        return path;
    }

    static string Which(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException($"{name} is not installed: run `apt-get install -y redis-server redis-sentinel redis-tools` (scripts/test.sh does)");
    }

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RedisSidecars.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find RedisSidecars.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a program to completion with an exact environment; returns exit code and output.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, IDictionary<string, string> env, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        psi.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        ProcessRegistry.Track(p);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(file)} did not finish within {timeout.TotalSeconds:0}s; stderr: {await stderr}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>Every long-running program the harness, the benchmark and the demo start (servers, sidecars, the API double).</summary>
public static class Programs
{
    static readonly string? SetsidPath = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>
    /// Starts <paramref name="file"/>: tracked by <see cref="ProcessRegistry"/>; stdout and stderr line by line to
    /// <paramref name="log"/> (appended, closed once both streams end) and <paramref name="onLine"/>. <paramref name="env"/>
    /// null inherits this process's environment, else it is exactly that (plus PATH). <paramref name="newSession"/>: in its
    /// own session (setsid, same pid), so a Ctrl-C in the terminal reaches only this process, which stops it in order.
    /// </summary>
    public static Process Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? log = null,
        Action<string>? onLine = null, bool newSession = false)
    {
        var setsid = newSession ? SetsidPath : null;
        var psi = new ProcessStartInfo(setsid ?? file) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        if (setsid is not null) psi.ArgumentList.Add(file); // a child of ours is not a group leader, so setsid just execs
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null)
        {
            psi.Environment.Clear();
            psi.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin";
            foreach (var (k, v) in env) psi.Environment[k] = v;
        }
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        ProcessRegistry.Track(p);
        var writer = log is null ? null : new StreamWriter(log, append: true) { AutoFlush = true };
        var open = 2;
        void OnData(object? _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                if (Interlocked.Decrement(ref open) == 0 && writer is not null) lock (writer) writer.Dispose();
                return;
            }
            onLine?.Invoke(e.Data);
            if (writer is not null) lock (writer) { try { writer.WriteLine(e.Data); } catch (ObjectDisposedException) { } }
        }
        p.OutputDataReceived += OnData;
        p.ErrorDataReceived += OnData;
        p.EnableRaisingEvents = true;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }
}

/// <summary>Every process a test starts, killed when the test host exits even if a test forgot.</summary>
public static class ProcessRegistry
{
    static readonly List<Process> Processes = [];

    static ProcessRegistry() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    public static void Track(Process p) { lock (Processes) Processes.Add(p); }

    public static void KillAll()
    {
        lock (Processes)
        {
            foreach (var p in Processes)
            {
                try { if (!p.HasExited) { Signals.Send(p.Id, Signals.SIGCONT); p.Kill(entireProcessTree: true); } }
                catch (InvalidOperationException) { }
            }
            Processes.Clear();
        }
    }
}

public static partial class Signals
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGSTOP = 19, SIGCONT = 18;

    public static void Send(int pid, int signal) => _ = Kill(pid, signal);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int sig);
}

/// <summary>
/// Gives each set its own block of loopback addresses (127.N.1.x for Redis, 127.N.2.x for Sentinels),
/// unique across processes: a block is claimed with an exclusive lock on a file in the temp directory,
/// held until <see cref="Release"/> or the process ends. Without it two processes on one machine (tests,
/// the benchmark, a chaos run) could pick the same addresses, and one set's PINGs would be answered by the
/// other set's servers.
/// </summary>
public static class LoopbackBlocks
{
    const int First = 20, Count = 200;
    static readonly Dictionary<int, FileStream> Held = [];
    static int next = Environment.ProcessId % Count;

    public static int Next()
    {
        for (var attempt = 0; attempt < Count; attempt++)
        {
            var block = First + Interlocked.Increment(ref next) % Count;
            var path = Path.Combine(Path.GetTempPath(), $"redis-sidecars-block-{block}.lock");
            try
            {
                var lockFile = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                lock (Held) Held[block] = lockFile;
                return block;
            }
            catch (IOException) { } // held by another set or process
        }
        throw new InvalidOperationException($"all {Count} loopback blocks are in use (lock files {Path.GetTempPath()}redis-sidecars-block-*.lock)");
    }

    public static void Release(int block)
    {
        lock (Held)
        {
            if (Held.Remove(block, out var lockFile)) lockFile.Dispose();
        }
    }
}

/// <summary>Polling waits with a bound, failing with the caller's diagnostics (server logs, container logs).</summary>
public static class Wait
{
    /// <summary>
    /// The one wait of the test harnesses, the benchmark and the demo: polls <paramref name="condition"/> every
    /// <paramref name="poll"/> (default 100 ms) until it holds; else a <see cref="TimeoutException"/> naming
    /// <paramref name="what"/>, the last <paramref name="why"/> and the diagnostics.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<Task<string>> diagnostics,
        CancellationToken ct = default, Func<string?>? why = null, TimeSpan? poll = null)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (await condition()) return;
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100), ct);
        }
        var reason = why?.Invoke() is { } r ? $" (last: {r})" : "";
        throw new TimeoutException($"timed out after {timeout.TotalSeconds:0}s waiting until {what}{reason}\n{await diagnostics()}");
    }
}

public static class Text
{
    public static string Tail(string path, int lines = 25)
    {
        try
        {
            var all = File.ReadAllLines(path);
            var sb = new StringBuilder();
            foreach (var l in all.Skip(Math.Max(0, all.Length - lines))) sb.AppendLine(l);
            return sb.ToString();
        }
        catch (IOException) { return "(no log)"; }
    }
}
