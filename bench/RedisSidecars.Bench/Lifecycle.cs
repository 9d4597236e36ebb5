using System.Globalization;
using RedisSidecars.Core.Settings;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Redis;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>How much of everything a run does.</summary>
/// <param name="Mode">quick, default or long (named in the table's header).</param>
public sealed record Counts(string Mode, int Init, int Failovers, int Handovers, int Unplanned, TimeSpan Idle, TimeSpan Outage)
{
    public static Counts Quick { get; } = new("quick", Init: 5, Failovers: 2, Handovers: 1, Unplanned: 1, Idle: TimeSpan.FromSeconds(5), Outage: TimeSpan.FromSeconds(5));
    public static Counts Default { get; } = new("default", Init: 50, Failovers: 30, Handovers: 5, Unplanned: 5, Idle: TimeSpan.FromMinutes(3), Outage: TimeSpan.FromMinutes(1));
    /// <summary>The issue's durations: after 1 h idle, after 100 failovers, through a 10-minute API outage.</summary>
    public static Counts Long { get; } = new("long", Init: 50, Failovers: 100, Handovers: 10, Unplanned: 5, Idle: TimeSpan.FromHours(1), Outage: TimeSpan.FromMinutes(10));

    public bool IsQuick => Mode == "quick";
}

/// <summary>
/// One set through a sidecar's life: started, idle, forced failovers, an API outage. Measures resources at each stage
/// (RSS split into file-backed and anonymous, threads, CPU), API requests at rest and per failover, and per failover the
/// time from Sentinel's promotion to the new master's label, with the label and endpoint invariants.
/// </summary>
public static class Lifecycle
{
    const string L = SidecarSet.Label, M = SidecarSet.Master;
    const string S = "sidecar";
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(40);

    /// <summary>The shipped reconcile interval (test sets use a shorter one): resources at rest are measured as deployed.</summary>
    static readonly Dictionary<string, string> Env = new()
    {
        ["RECONCILE_INTERVAL_MS"] = SidecarSettingsValidator.DefaultReconcileIntervalMs.ToString(CultureInfo.InvariantCulture),
    };

    public static async Task RunAsync(Report report, Counts n, Flavour f)
    {
        var c = f.Column;
        report.Set(S, "binary size", c, $"{f.BinaryMb:0.0} MB", f.Old ? "" : "Native AOT, stripped", new Goal("≤ 15 MB", f.BinaryMb <= 15));
        await using var s = await f.StartSetAsync(Settle, Env);
        var samples = new SidecarSamples([.. Enumerable.Range(0, 3).Select(i => s.Sidecar(i)!.Id)]);
        Resources(report, c, "at start (labels settled)", samples.Take(), f);

        await IdleAsync(report, n, f, s, samples);
        await FailoversAsync(report, n, f, s, samples);
        await OutageAsync(report, n, f, s, samples);
    }

    static void Resources(Report report, string column, string when, ProcSample[] now, Flavour f, Goal? goal = null)
    {
        var (value, note) = SidecarSamples.Describe(now);
        report.Set(S, $"RSS (file + anon), threads: {when}", column, value, note, goal);
    }

    /// <summary>At rest: Sentinel settled, labels as it says, every pod's readiness condition True (a demoted master is ready again).</summary>
    static async Task SettledAsync(SidecarSet s, string what)
    {
        await s.Set.WaitForSettledAsync(Settle);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels " + what);
        await s.Set.WaitUntilAsync(() => Task.FromResult(Enumerable.Range(0, s.Set.Redis.Count).All(i => s.ConditionOf(i) == "True")), Settle, "every pod ready " + what);
    }

    static async Task IdleAsync(Report report, Counts n, Flavour f, SidecarSet s, SidecarSamples samples)
    {
        var c = f.Column;
        await SettledAsync(s, "before idling");
        var watches = s.Api.OpenWatches;
        var mark = s.Api.MarkRequests();
        samples.Mark();
        var until = DateTime.UtcNow + n.Idle;
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(Min(until - DateTime.UtcNow, TimeSpan.FromSeconds(10)));
            samples.Take();
        }
        var cpu = samples.CpuPercentSinceMark();
        var requests = s.Api.CountRequestsSince(mark);
        var perMinute = requests.ExceptWatches / requests.Span.TotalMinutes;
        var idle = Stats.Seconds(n.Idle);
        Resources(report, c, $"after {idle} idle", samples.Take(), f);
        report.Set(S, $"CPU at rest ({idle})", c, SidecarSamples.Cpu(cpu), "of one core, each sidecar; RECONCILE_INTERVAL_MS as shipped (1000)",
            new Goal("≤ 0.2 %", cpu.Max() <= 0.2));
        // The slow resync is the one request at rest by design: each sidecar relists its pods and its StatefulSet once per
        // KUBE_RESYNC_INTERVAL_MS (shipped: 10 min); anything else, or more lists, is polling.
        var resyncs = s.Set.Redis.Count * 2 * (int)Math.Ceiling(n.Idle / TimeSpan.FromMilliseconds(SidecarDefaults.KubeResyncIntervalMs));
        var lists = requests.Verb("list");
        report.Set(S, $"API requests at rest, per minute ({idle}, whole set)", c, $"{perMinute:0.0}/min besides watches",
            $"open watches {watches}; all requests: {requests}; the 10-minute resync allows {resyncs} lists",
            new Goal("0 beyond the open watches and the slow resync", requests.ExceptWatches == lists && lists <= resyncs));
    }

    static async Task FailoversAsync(Report report, Counts n, Flavour f, SidecarSet s, SidecarSamples samples)
    {
        var c = f.Column;
        await using var ev = await SentinelEvents.StartAsync(s.Set, "+promoted-slave", "+switch-master");
        var fromPromoted = new List<double>();
        var fromLog = new List<double>();
        var fromSwitch = new List<double>();
        var noEndpoint = new List<double>();
        var retries = 0;
        var phaseStart = s.Api.Timeline.Elapsed;
        var mark = s.Api.MarkRequests();
        samples.Mark();
        var wall = DateTime.UtcNow;
        for (var i = 0; i < n.Failovers; i++)
        {
            await s.Set.WaitForSettledAsync(Settle);
            var sentinel = s.Set.Sentinels[i % s.Set.Sentinels.Count];
            var from = s.Api.Timeline.Elapsed;
            SentinelEvent promoted;
            DateTimeOffset asked;
            while (true)
            {
                ev.Reset();
                asked = DateTimeOffset.UtcNow;
                await s.Set.WaitUntilAsync(() => s.Set.TryFailoverAsync(sentinel), Settle, $"{sentinel.Name} accepts SENTINEL FAILOVER (needs a good replica)");
                try { promoted = await ev.WaitAsync("+promoted-slave", TimeSpan.FromSeconds(20), sentinel); break; }
                catch (TimeoutException) when (retries < 5 + n.Failovers / 10)
                {
                    retries++; // Sentinel aborted that failover (e.g. the chosen replica did not confirm its promotion): ask again
                    await s.Set.WaitForSettledAsync(Settle);
                }
            }
            var switched = await ev.WaitAsync("+switch-master", Settle);
            var newNode = s.Set.NodeAt(RedisReplies.PromotedReplica(promoted.Message, RedisSet.MasterSet)?.ToString()
                ?? throw new InvalidOperationException($"unexpected +promoted-slave message '{promoted.Message}'"));
            LabelChange change;
            try
            {
                change = await s.Api.Timeline.WaitForAsync(x => x.Pod == newNode.Name && x.Key == L && x.NewValue == M && x.WallTime >= asked, Settle);
            }
            catch (TimeoutException)
            {
                var exits = string.Join(", ", Enumerable.Range(0, 3).Select(k => $"sidecar {k}: {(s.Sidecar(k)!.HasExited ? "exited " + s.Sidecar(k)!.ExitCode : "running")}"));
                throw new TimeoutException($"{c} failover {i}: {newNode.Name} not labelled master within {Settle.TotalSeconds:0}s of +promoted-slave at {promoted.At:O}; {exits}\n{s.Diagnostics()}\n{s.Set.Diagnostics()}");
            }
            fromPromoted.Add((change.WallTime - promoted.At).TotalMilliseconds);
            fromSwitch.Add((change.WallTime - switched.At).TotalMilliseconds);
            if (SentinelLog.Find(sentinel, "+promoted-slave", asked) is { } logged) fromLog.Add((change.WallTime - logged).TotalMilliseconds);
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, $"labels after failover {i}");
            Trace.Round($"{c} forced failover {i} → {newNode.Name}", s, ev, asked, DateTimeOffset.UtcNow, (asked, "bench    SENTINEL FAILOVER"));
            noEndpoint.Add(s.MasterEndpoints().LongestWithoutReady(from, s.Api.Timeline.Elapsed).TotalMilliseconds);
        }
        var cpu = samples.CpuPercentSinceMark();
        var took = DateTime.UtcNow - wall;
        var requests = s.Api.CountRequestsSince(mark);
        double Per(string verb, string resource) => (double)requests[verb, resource] / n.Failovers;
        var labels = Per("patch", "pods");
        var conditions = Per("patch", "pods/status");
        var events = Per("create", "events") + Per("patch", "events");
        var zero = s.Api.Timeline.IntervalsWithout(L, M).Where(x => x.Start >= phaseStart && x.Duration is not null).Select(x => x.Duration!.Value.TotalMilliseconds).ToArray();
        var maxMasters = s.Api.Timeline.MaxConcurrent(L, M);
        var p95 = Stats.Percentile(fromPromoted, 95);

        report.Set(S, $"+promoted-slave → new master labelled ({n.Failovers} forced failovers)", c, Stats.Dist(fromPromoted),
            f.Old ? "" : "the leader's +promoted-slave as the benchmark's subscriber saw it → the label patch in the double's timeline; API latency 4 ms",
            new Goal("p95 ≤ 20 ms", p95 <= 20));
        report.Set(S, "Sentinel's +promoted-slave log line → new master labelled", c, Stats.Dist(fromLog),
            f.Old ? "" : "the leader's own log stamp (ms); n=" + fromLog.Count.ToString(CultureInfo.InvariantCulture));
        report.Set(S, "first +switch-master → new master labelled", c, Stats.Dist(fromSwitch),
            f.Old ? "" : "as in the pre-v2 table; negative: labelled before any Sentinel announced the switch");
        report.Set(S, "most pods labelled master at once", c, maxMasters.ToString(CultureInfo.InvariantCulture), "", new Goal("1 (never two)", maxMasters <= 1));
        report.Set(S, "longest instant with no pod labelled master", c, zero.Length == 0 ? "0 ms" : Stats.Ms(zero.Max()),
            $"over {zero.Length} handoffs; median {Stats.Ms(Stats.Percentile(zero, 50))}");
        report.Set(S, "longest without a ready endpoint of the master Service (per failover)", c, Stats.Dist(noEndpoint),
            f.Old ? "" : "the double runs the kubelet's readiness probe (period 1 s) on /readyz; endpoints = labelled master and Ready");
        report.Set(S, "failovers Sentinel aborted (the bench asked again)", c, retries.ToString(CultureInfo.InvariantCulture), f.Old ? "" : "Sentinel's own behaviour");
        report.Set(S, "API requests per failover (whole set)", c, Stats.Number(requests.Total / (double)n.Failovers),
            PerFailover(requests, n.Failovers));
        report.Set(S, "label + condition writes per failover (whole set)", c, $"{labels:0.0} labels + {conditions:0.0} conditions",
            $"plus {events:0.0} Events", new Goal("≤ 2 + ≤ 2", labels <= 2 && conditions <= 2));
        Resources(report, c, $"after {n.Failovers} failovers", samples.Take(), f);
        report.Set(S, "CPU during the failovers", c, SidecarSamples.Cpu(cpu), $"{Stats.Seconds(took)} of back-to-back failovers");
    }

    static async Task OutageAsync(Report report, Counts n, Flavour f, SidecarSet s, SidecarSamples samples)
    {
        var c = f.Column;
        var outage = Stats.Seconds(n.Outage);
        await SettledAsync(s, "before the outage");
        var watches = s.Api.OpenWatches;
        samples.ResetPeak();
        samples.Mark();
        var mark = s.Api.MarkRequests();
        var began = DateTimeOffset.UtcNow;
        s.Api.Blackhole();
        var until = DateTime.UtcNow + n.Outage;
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(Min(until - DateTime.UtcNow, TimeSpan.FromSeconds(1)));
            samples.Take();
        }
        var cpu = samples.CpuPercentSinceMark();
        var requests = s.Api.CountRequestsSince(mark);
        s.Api.EndBlackhole();
        var ended = s.Api.Timeline.Elapsed;
        var endedAt = DateTimeOffset.UtcNow;
        var peak = samples.Peak;
        report.Set(S, $"peak working set through a {outage} API outage", c, peak.ToString(), "the double's blackhole: requests and open watches never answered",
            new Goal("≤ 30 MB", peak.RssMb <= 30));
        report.Set(S, $"CPU through the {outage} API outage", c, SidecarSamples.Cpu(cpu));
        report.Set(S, $"API requests during the {outage} outage, per minute (whole set)", c, $"{requests.Total / requests.Span.TotalMinutes:0.0}/min", requests.ToString());
        if (n.IsQuick)
        {
            report.Set(S, "after the outage: API in use again", c, "not waited (--quick)");
            Trace.Round($"{c} API outage", s, null, began, DateTimeOffset.UtcNow, (began, "bench    API blackhole"), (endedAt, "bench    API answers again"));
            return;
        }
        // A blackholed watch never ends by itself: the sidecar notices it by its idle timeout, then lists and watches again.
        var again = TimeSpan.Zero;
        await s.Set.WaitUntilAsync(() =>
        {
            var back = s.Api.Requests.FirstOrDefault(r => r.Elapsed >= ended && r.StatusCode is >= 200 and < 300 && r.Fault is null);
            if (back is not null) again = back.Elapsed - ended;
            return Task.FromResult(back is not null && s.Api.OpenWatches >= watches);
        }, TimeSpan.FromMinutes(6), "the sidecars use the API again after the outage", poll: TimeSpan.FromSeconds(1));
        var watchesBack = s.Api.Timeline.Elapsed - ended;
        report.Set(S, "after the outage: first answered request / watches open again", c,
            $"{Stats.Seconds(again)} / {(watches == 0 ? "no watches" : Stats.Seconds(watchesBack))}",
            f.Old ? "" : $"after the API answers again; {watches} watches were open before");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the outage");
        Trace.Round($"{c} API outage", s, null, began, DateTimeOffset.UtcNow, (began, "bench    API blackhole"), (endedAt, "bench    API answers again"));
        Resources(report, c, "after the outage", samples.Take(), f);
    }

    static string PerFailover(RequestCounts c, int failovers) => c.Total == 0 ? "none" : string.Join(", ", c.ByVerbAndResource
        .OrderBy(kv => kv.Key.Resource, StringComparer.Ordinal).ThenBy(kv => kv.Key.Verb, StringComparer.Ordinal)
        .Select(kv => $"{kv.Key.Verb} {kv.Key.Resource} {(kv.Value / (double)failovers).ToString("0.0", CultureInfo.InvariantCulture)}"));

    static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
