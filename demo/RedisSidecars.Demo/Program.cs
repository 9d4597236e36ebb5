// The README's first command runs this through scripts/demo.sh (which installs Redis, publishes both
// binaries and builds this project):
//   bash scripts/demo.sh [--keep] [--no-table]
using System.Diagnostics;
using System.Runtime.InteropServices;
using RedisSidecars.Demo;
using RedisSidecars.Testing;

const string Usage = """
    usage: scripts/demo.sh [--keep] [--no-table]
      Starts 3 Redis (127.0.1.1-3:6379) and 3 Sentinels (127.0.2.1-3:26379) with configs written by redis-init,
      the Kubernetes API double as its own process (http://127.0.3.1:8001, probing each sidecar's /readyz as the kubelet
      would), and 3 redis-sidecars on their pods' addresses (127.0.1.1-3: :9180 /readyz /metrics, :9181 /handover);
      shows a live table, performs a Sentinel failover and a planned handover with measured times, then stops
      everything it started.
      --keep      keep running after the scripted part, for you to play with; Ctrl-C stops everything
      --no-table  plain line output instead of the live table (automatic when stdout is not a terminal or TERM=dumb)
    exit: 0 all checks passed (or --keep stopped with Ctrl-C); 1 a check failed; 2 bad arguments; 130/143 interrupted
    """;

var keep = false;
var table = Ui.IsTerminal;
foreach (var a in args)
{
    switch (a)
    {
        case "--keep": keep = true; break;
        case "--no-table": table = false; break;
        case "--help" or "-h": Console.WriteLine(Usage); return 0;
        default: Console.Error.WriteLine($"demo: unknown argument '{a}'\n{Usage}"); return 2;
    }
}

using var stop = new CancellationTokenSource();
var stopSignal = 0;
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true; // stop in order, below
    if (Interlocked.CompareExchange(ref stopSignal, context.Signal switch { PosixSignal.SIGINT => 2, PosixSignal.SIGHUP => 1, _ => 15 }, 0) == 0)
        stop.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
var ct = stop.Token;

var origin = DateTimeOffset.UtcNow;
var ui = new Ui(table, origin);
using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
{
    Timeout = Timeout.InfiniteTimeSpan,
};
var exit = 0;
var scripted = false;
string? diagnostics = null;
Cluster? cluster = null;
Probe? probe = null, scenarioProbe = null;
Scenario? scenario = null;
Task? refresh = null;
using var refreshStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
try
{
    cluster = new Cluster();
    cluster.CheckAddressesFree();
    var set = cluster.Set;
    probe = new Probe(set, http, Cluster.ApiBase);
    scenarioProbe = new Probe(set, http, Cluster.ApiBase);
    scenario = new Scenario(cluster, ui, http, scenarioProbe);
    ui.Start();
    refresh = RefreshAsync(probe, refreshStop.Token);

    ui.Phase($"starting the Kubernetes API double as its own process: {Cluster.ApiBase}");
    await cluster.StartApiAsync(ct);
    ui.Event($"api      KubeApiDouble listening on {Cluster.ApiBase} (namespace {Cluster.Namespace}, pods {string.Join(",", set.Redis.Select(n => n.Name))})");
    var formed = Stopwatch.StartNew();
    foreach (var n in set.Redis.Concat(set.Sentinels))
    {
        var kind = n.Kind == NodeKind.Redis ? "redis" : "sentinel";
        ui.Phase($"starting {n.Name} on {n.Address}: redis-init {kind} writes {Path.GetFileName(n.ConfPath)}, then redis-{(kind == "redis" ? "server" : "sentinel")}");
        var decision = await cluster.StartNodeAsync(n, ct);
        ui.Event($"init     {n.Name}: redis-init {kind}: {decision}");
    }
    ui.Phase("waiting for the set to form (master with 2 linked replicas, Sentinels agree)");
    string? unformed = null;
    try
    {
        await set.WaitUntilAsync(async () => (unformed = (await set.SettledAsync()).Why) is null, TimeSpan.FromSeconds(30), "the set formed", ct, () => unformed);
    }
    catch (TimeoutException) { throw new DemoFailure($"the Redis set did not form within 30 s: {unformed}"); }
    var formedIn = formed.Elapsed;
    ui.Phase("starting 3 redis-sidecars on their pods' addresses (KUBECONFIG → the double; :9180 probes and metrics, :9181 /handover)");
    var sidecarsStarted = Stopwatch.StartNew();
    for (var i = 0; i < set.Redis.Count; i++) cluster.StartSidecar(i);
    ui.Phase("waiting for labels and readiness to match the Sentinels");
    await scenario.WaitSettledAsync("the first labels", ct, TimeSpan.FromSeconds(45));
    ui.Result($"  startup: set formed in {Scenario.Ms(formedIn)} (configs by redis-init); "
        + $"labels + readiness {Scenario.Ms(sidecarsStarted.Elapsed)} after sidecars started");
    await Task.Delay(table ? 2000 : 300, ct);

    ui.Phase($"failover: SENTINEL FAILOVER {RedisSet.MasterSet}");
    var failover = await scenario.FailoverAsync(ct);
    ui.Measured(failover);
    await Task.Delay(table ? 2000 : 300, ct);

    ui.Phase($"planned handover: POST /handover on the master's sidecar");
    var handover = await scenario.HandoverAsync(ct);
    ui.Measured(handover);

    var (_, maxEver) = await Timeline.FetchAsync(http, Cluster.ApiBase, ct);
    ui.Result($"  whole run: at most {maxEver} pod labelled {SidecarSet.Label}={SidecarSet.Master} at any instant (double's timeline){(maxEver == 1 ? "" : ": FAIL, must be 1")}");
    if (failover.MaxLabelled != 1 || handover.MaxLabelled != 1 || maxEver != 1) throw new DemoFailure("more than one pod was labelled master at the same instant");
    scripted = true;

    if (keep)
    {
        ui.Phase("running (--keep): play with it; Ctrl-C stops everything");
        var c = cluster;
        ui.Hints(s => KeepHints(c, s?.AgreedMaster));
        await Task.Delay(Timeout.Infinite, ct);
    }
    else
    {
        await Task.Delay(table ? 1500 : 600, ct); // the table catches up with the settled state
        ui.Phase("done: all checks passed; stopping everything");
    }
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    exit = keep && scripted ? 0 : 128 + stopSignal;
    var name = stopSignal switch { 2 => "SIGINT", 1 => "SIGHUP", _ => "SIGTERM" };
    ui.Phase(keep && scripted ? $"{name}: stopping everything" : $"interrupted ({name}); stopping everything");
}
catch (DemoFailure e)
{
    exit = 1;
    ui.Phase("FAILED: " + e.Message);
    ui.Event("FAILED: " + e.Message);
    if (cluster is { Running: > 0 }) diagnostics = cluster.Diagnostics(); // printed below the final frame
}
catch (Exception e)
{
    exit = 1;
    ui.Phase($"FAILED: {e.GetType().Name}: {e.Message}");
    if (cluster is { Running: > 0 }) diagnostics = e + "\n" + cluster.Diagnostics();
}
finally
{
    // Whatever happened: stop the view, then every process, then remove the files.
    await refreshStop.CancelAsync();
    if (refresh is not null) try { await refresh; } catch (Exception e) when (e is OperationCanceledException or HttpRequestException) { }
    ui.Stop();
    if (diagnostics is not null) Console.Error.WriteLine("log tails:\n" + diagnostics);
    if (scenario is not null) await scenario.DisposeAsync();
    if (scenarioProbe is not null) await scenarioProbe.DisposeAsync();
    if (probe is not null) await probe.DisposeAsync();
    if (cluster is not null)
    {
        var sw = Stopwatch.StartNew();
        var running = cluster.Running;
        await cluster.DisposeAsync();
        ui.Line($"stopped {running} processes and removed {cluster.Set.Root} in {Scenario.Ms(sw.Elapsed)}; exit {exit}");
    }
}
return exit;

async Task RefreshAsync(Probe probe, CancellationToken token)
{
    while (!token.IsCancellationRequested)
    {
        var tick = Stopwatch.StartNew();
        try
        {
            var s = await probe.TakeAsync(token);
            IReadOnlyList<LabelChange>? changes = null;
            IReadOnlyList<EndpointsChange>? endpoints = null;
            if (s.ApiUp)
            {
                try { changes = (await Timeline.FetchAsync(http, Cluster.ApiBase, token)).Changes; }
                catch (HttpRequestException) { }
                endpoints = await Endpoints.FetchAsync(http, Cluster.ApiBase, token);
            }
            ui.Update(s, changes, endpoints);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested) { return; }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or InvalidOperationException
            or FormatException or OperationCanceledException) { } // one bad poll: the next one redraws
        var wait = TimeSpan.FromMilliseconds(250) - tick.Elapsed;
        if (wait > TimeSpan.Zero) try { await Task.Delay(wait, token); } catch (OperationCanceledException) { return; }
    }
}

static IEnumerable<string> KeepHints(Cluster c, string? master)
{
    var m = c.Set.Redis.FirstOrDefault(n => n.Address == master);
    var who = m is null ? "no agreed master now" : $"the master now ({m.Name})";
    var addr = m?.Address ?? "127.0.1.1:6379";
    static string H(string command, string comment) => $"  {command,-58} # {comment}";
    yield return "\x1b[1mplay with it\x1b[0m from another terminal (Ctrl-C here stops everything):";
    yield return H("redis-cli -h 127.0.1.1 info replication", "pods 127.0.1.1-3:6379");
    yield return H("redis-cli -h 127.0.2.1 -p 26379 sentinel failover mymaster", "Sentinels 127.0.2.1-3:26379");
    yield return H($"kill -9 $(pgrep -f 'redis-server {addr}')", $"{who}; or -STOP/-CONT");
    yield return H($"curl -X POST {Cluster.HandoverUrl(m ?? c.Set.Redis[0])}", "planned handover, master's sidecar (:9181)");
    yield return H($"curl {Cluster.ApiBase}/_double/pods", "also /_double/timeline, /_double/endpoints?namespace=demo&selector=redis-role%3Dmaster");
    yield return H($"curl -X POST '{Cluster.ApiBase}/_double/fail?status=503&seconds=10'", "API outage for 10 s");
    yield return H($"curl {Cluster.SidecarUrl(c.Set.Redis[0], "/metrics")}", "each sidecar on its pod's address: :9180 /readyz /livez /metrics");
    yield return $"  logs: {c.Set.Root}/redis-N/{{server.log,sidecar.log}}";
}
