using System.Diagnostics;

namespace RedisSidecars.Testing.Chaos;

/// <summary>
/// A liveness prober over every sidecar for the whole chaos run, as the kubelet's would be but tighter: <c>/livez</c>
/// every <see cref="Period"/>. A failure is a 503 (the sidecar itself says its loop stalled), or
/// <see cref="FailureThreshold"/> probes in a row without an answer from a sidecar process that is running, has
/// answered before (the startup probe passed) and is not being stopped on purpose. A process that never answers within
/// <see cref="StartupBound"/> of its start is a failure too.
/// </summary>
public sealed class LivezMonitor : IAsyncDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    public const int FailureThreshold = 5;
    public static readonly TimeSpan StartupBound = TimeSpan.FromSeconds(30);

    readonly SidecarSet s;
    readonly Func<int, bool> stopping;
    readonly CancellationTokenSource stop = new();
    readonly List<string> failures = [];
    readonly Task loop;
    int probes;

    /// <param name="stopping">True while the runner stops or restarts sidecar <c>i</c> on purpose (SIGTERM, a pod recreated).</param>
    public LivezMonitor(SidecarSet sidecars, Func<int, bool> stopping)
    {
        s = sidecars;
        this.stopping = stopping;
        loop = Task.Run(() => RunAsync(stop.Token));
    }

    public int Probes => Volatile.Read(ref probes);

    public int Failures { get { lock (failures) return failures.Count; } }

    /// <summary>Failures recorded since the last call.</summary>
    public IReadOnlyList<string> TakeNew(ref int seen)
    {
        lock (failures)
        {
            var fresh = failures.Skip(seen).ToList();
            seen = failures.Count;
            return fresh;
        }
    }

    sealed class Watched(Process process)
    {
        public Process Process { get; } = process;
        public bool Started { get; set; }
        public int Misses { get; set; }
        public bool Reported { get; set; }
    }

    async Task RunAsync(CancellationToken ct)
    {
        var watched = new Watched?[s.Set.Redis.Count];
        var clock = Stopwatch.StartNew();
        while (!ct.IsCancellationRequested)
        {
            var round = Enumerable.Range(0, watched.Length).Select(async i =>
            {
                var p = s.Sidecar(i);
                if (p is null || p.HasExited || stopping(i)) { watched[i] = null; return; }
                if (watched[i]?.Process != p) watched[i] = new Watched(p);
                var w = watched[i]!;
                string? problem;
                try
                {
                    var (code, body) = await s.HttpAsync(i, "GET", "/livez", Timeout);
                    Interlocked.Increment(ref probes);
                    if (code == 200) { w.Started = true; w.Misses = 0; w.Reported = false; return; }
                    problem = $"/livez answered {code}: {body.Trim()}";
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref probes);
                    if (p.HasExited || stopping(i)) return; // it exited meanwhile: the sidecars-stay-up check's business
                    w.Misses++;
                    if (w.Started ? w.Misses < FailureThreshold : DateTime.Now - p.StartTime < StartupBound) return;
                    if (w.Reported) return;
                    w.Reported = true;
                    problem = w.Started
                        ? $"/livez did not answer {w.Misses} times in a row ({e.GetType().Name}: {e.Message})"
                        : $"/livez never answered within {StartupBound.TotalSeconds:0}s of the process start ({e.GetType().Name})";
                }
                lock (failures) failures.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {s.Set.Redis[i].Name} (pid {p.Id}): {problem}");
            });
            await Task.WhenAll(round);
            var next = Period - TimeSpan.FromTicks(clock.Elapsed.Ticks % Period.Ticks);
            try { await Task.Delay(next, ct); }
            catch (OperationCanceledException) { return; }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
    }
}
