using System.Diagnostics;
using System.Globalization;

namespace RedisSidecars.Testing.Chaos;

/// <summary>
/// Seeded faults, alone and in compound sequences, against a real <see cref="SidecarSet"/> (3 Redis, 3 Sentinels,
/// 3 published sidecars, the API double with the kubelet's readiness prober) while an <see cref="AckedWriter"/> writes
/// through the master Service, with every invariant checked after every step (and at the checkpoints inside one):
/// <list type="number">
/// <item>never two pods labelled master at the same instant (label timeline), never two ready endpoints of the master
/// Service at the same instant (endpoints timeline);</item>
/// <item>once Sentinel settles (<see cref="RedisSet.SettledAsync"/>), within <see cref="ChaosOptions.SettleBound"/>
/// exactly one pod is labelled master, it is the Sentinels' master and the master Service's one ready endpoint, and
/// every pod's readiness matches DESIGN.md's table; with no Sentinel majority past the grace: nobody labelled master,
/// the master not ready;</item>
/// <item>no acknowledged write lost (see <see cref="CheckLostAsync"/> for the one case Redis itself allows), and the
/// writer acknowledges again once the set has settled;</item>
/// <item>sidecars never exit on their own and /livez stays 200 (<see cref="LivezMonitor"/>), through API and Sentinel outages;</item>
/// <item>a handover answers one of the documented outcomes (the one the situation calls for where there is only one);
/// when it is not HandedOver the pod stays master with writes resumed, or writes stay paused while a failover is
/// pending and resume once it resolves;</item>
/// <item>every Sentinel's tables are exactly the other Redis pods and the other Sentinels (no stale twins).</item>
/// </list>
/// The seed decides the steps, their parameters and their gaps (<see cref="ChaosPlanner"/>); it is printed first so a
/// failure can be replayed, and a found sequence is written out as a <see cref="ChaosOptions.Script"/> in a named test.
/// <para>
/// Use: <c>await ChaosRunner.RunAsync(new ChaosOptions { Seed = 7, Steps = 200, StopOnFirstViolation = false, Log = Console.WriteLine })</c>
/// starts its own set and returns a <see cref="ChaosSummary"/> (its <c>ToString()</c> is Markdown tables); or
/// <c>new ChaosRunner(sidecarSet, options).RunAsync(ct)</c> on a set the caller started (one run per instance).
/// With <see cref="ChaosOptions.StopOnFirstViolation"/> a violation throws <see cref="ChaosViolationException"/>
/// (seed, step, invariant, server and sidecar log tails); otherwise violations are collected in the summary and a
/// sidecar that died is restarted, as the kubelet would, so the run goes on.
/// </para>
/// </summary>
public sealed partial class ChaosRunner
{
    const string L = SidecarSet.Label, M = SidecarSet.Master, Replica = Core.Settings.SidecarDefaults.ReplicaLabelValue;

    readonly SidecarSet s;
    readonly RedisSet set;
    readonly ChaosOptions o;
    readonly Action<string> log;
    readonly TimeSpan lossGrace, handoverTimeout;
    readonly HashSet<Node> down = [];          // Redis pods expected not ready: killed, SIGSTOPped, being recreated
    readonly HashSet<Node> hungSentinels = []; // SIGSTOPped Sentinels: left out of "Sentinel settled" and the table checks
    readonly HashSet<int> stoppingSidecars = []; // sidecars the runner stops on purpose right now (SIGTERM, pod recreated)
    readonly HashSet<long> knownLost = [];     // lost writes already accounted for (excused or reported)
    readonly Dictionary<string, int> checks = new(StringComparer.Ordinal), failed = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> pairs = new(StringComparer.Ordinal), handoverOutcomes = new(StringComparer.Ordinal);
    readonly Dictionary<ApiOutage, int> apiOutages = [];
    readonly Dictionary<FaultKind, int> faults = [];
    readonly Dictionary<FaultKind, TimeSpan> maxLabelSettle = [], maxRecovery = [], maxWriteGap = [];
    readonly List<ChaosViolation> violations = [];
    readonly List<ChaosStepRecord> stepLog = [];
    AckedWriter? writer;
    LivezMonitor? livez;
    int livezSeen;
    Node master;
    DateTime apiFailingUntil = DateTime.MinValue;
    DateTime tiltUntil = DateTime.MinValue;     // every Sentinel is in TILT until then (set by SentinelsTilt once verified)
    PlannedStep? current;
    int step;
    string fault = "setup";
    int lostWrites, lostByRedis, unexpectedFailovers, twoMasterInstantsReported, twoEndpointInstantsReported, staleWrites, sidecarCrashes;
    TimeSpan maxStaleWindow;

    public ChaosRunner(SidecarSet sidecars, ChaosOptions options)
    {
        s = sidecars;
        set = sidecars.Set;
        o = options;
        log = options.Log ?? Console.WriteLine;
        lossGrace = TimeSpan.FromMilliseconds(int.Parse(s.EnvFor(0)["SENTINEL_LOSS_GRACE_MS"], CultureInfo.InvariantCulture));
        handoverTimeout = TimeSpan.FromMilliseconds(int.Parse(s.EnvFor(0)["HANDOVER_TIMEOUT_MS"], CultureInfo.InvariantCulture));
        master = set.Redis[0];
    }

    /// <summary>Starts a fresh <see cref="SidecarSet"/>, runs the chaos steps against it, and disposes it.</summary>
    public static async Task<ChaosSummary> RunAsync(ChaosOptions options, CancellationToken ct = default)
    {
        await using var s = await SidecarSet.StartAsync();
        return await new ChaosRunner(s, options).RunAsync(ct);
    }

    public async Task<ChaosSummary> RunAsync(CancellationToken ct = default)
    {
        var total = Stopwatch.StartNew();
        var plan = ChaosPlanner.Plan(o);
        log(o.Script is null
            ? $"chaos: seed={o.Seed} steps={o.Steps} compound share={o.CompoundShare:0.##} max gap={o.MaxGap:0.#}s (replay: {ChaosOptions.SeedVariable}={o.Seed} {ChaosOptions.StepsVariable}={o.Steps})"
            : $"chaos: a script of {plan.Count} steps");
        log("chaos: plan: " + string.Join(" | ", plan.Select(p => $"{p.Step}. {p}")));

        if (o.SentinelDownAfterMs is { } downAfter) await ApplyDownAfterAsync(downAfter);
        master = await SettleAndCheckAsync(new StepState(), "initial state", null, ct) ?? set.Redis[0];
        livez = new LivezMonitor(s, IsStopping);
        // A client of the master Service: it connects to the Service's one ready endpoint, as kube-proxy routes.
        writer = new AckedWriter(s.ServiceEndpoint, set);
        writer.Start();
        if (!await PollAsync(() => Task.FromResult(writer.AckedCount > 50 ? null : $"{writer.AckedCount} writes acknowledged"), TimeSpan.FromSeconds(20), ct))
            Violate("writer-starts", $"the writer got fewer than 50 acknowledged writes in 20 s through the master Service (endpoint {s.ServiceEndpoint()?.Name ?? "none"}, errors={writer.Errors})");

        var run = 0;
        try
        {
            foreach (var p in plan)
            {
                ct.ThrowIfCancellationRequested();
                await RunStepAsync(p, ct);
                run++;
            }
        }
        finally
        {
            await writer.DisposeAsync();
            await livez.DisposeAsync();
            await EndFaultsAsync();
        }

        // The last writes, now that the writer has stopped.
        current = null;
        step = plan.Count + 1;
        fault = "end of run";
        var final = new StepState();
        var m = await SettleAndCheckAsync(final, "end of run", null, ct) ?? master;
        await CheckLostAsync(final, m);

        var sidecarStats = await SidecarStatsAsync();
        var summary = new ChaosSummary
        {
            Seed = o.Seed,
            StepsPlanned = plan.Count,
            StepsRun = run,
            Duration = total.Elapsed,
            Faults = new Dictionary<FaultKind, int>(faults),
            Pairs = new Dictionary<string, int>(pairs, StringComparer.Ordinal),
            ApiOutages = new Dictionary<ApiOutage, int>(apiOutages),
            HandoverOutcomes = new Dictionary<string, int>(handoverOutcomes, StringComparer.Ordinal),
            Checks = new Dictionary<string, int>(checks, StringComparer.Ordinal),
            Failed = new Dictionary<string, int>(failed, StringComparer.Ordinal),
            MaxLabelSettle = new Dictionary<FaultKind, TimeSpan>(maxLabelSettle),
            MaxRecovery = new Dictionary<FaultKind, TimeSpan>(maxRecovery),
            MaxWriteGap = new Dictionary<FaultKind, TimeSpan>(maxWriteGap),
            AckedWrites = writer.AckedCount,
            LostWrites = lostWrites,
            LostByRedis = lostByRedis,
            TwoMasterInstants = twoMasterInstantsReported,
            TwoEndpointInstants = twoEndpointInstantsReported,
            UnexpectedFailovers = unexpectedFailovers,
            WriterErrors = writer.Errors,
            SidecarCrashes = sidecarCrashes,
            LivezProbes = livez.Probes,
            LivezFailures = livez.Failures,
            StaleClientWrites = staleWrites,
            MaxStaleClientWindow = maxStaleWindow,
            SidecarStats = sidecarStats,
            StepLog = [.. stepLog],
            Violations = [.. violations],
        };
        log(summary.ToString());
        return summary;
    }

    /// <summary>One step: its faults in order (with the gap), then the settled state checked and measured.</summary>
    async Task RunStepAsync(PlannedStep p, CancellationToken ct)
    {
        current = p;
        step = p.Step;
        fault = p.ToString();
        foreach (var k in p.Kinds.Distinct()) faults[k] = faults.GetValueOrDefault(k) + 1;
        if (p.Pair is { } pair) pairs[pair] = pairs.GetValueOrDefault(pair) + 1;
        var st = new StepState();
        var before = master;
        var ackedAtStart = writer!.AckedCount;
        log($"chaos: step {p.Step} {p} (master {before.Name})");

        var epochBefore = await ConfigEpochAsync();
        var first = await StartAsync(p.Fault, st, p.Then is not null && p.During ? Expect.Documented : Expect.HandedOver, ct);
        if (p.Then is { } then)
        {
            if (!p.During && first is not null) await first();
            await Task.Delay(Seconds(p.Gap), ct);
            st.Mark($"+{p.Gap:0.0}s");
            var second = await StartAsync(then, st, ExpectationAfter(p), ct);
            if (second is not null) await second();
            if (p.During && first is not null) await first();
        }
        else if (first is not null) await first();

        var after = await SettleAndCheckAsync(st, "after the step", null, ct) ?? master;
        foreach (var end in st.AtEnd) await end(after);
        // Failovers nobody asked for (Sentinel failing over a healthy master): not a violation by themselves,
        // but they can lose acknowledged writes in Redis itself, so they are counted, noted and logged.
        var failovers = await ConfigEpochAsync() - epochBefore;
        st.Failovers = (int)failovers;
        if (failovers > st.ExpectedFailovers)
        {
            var extra = (int)failovers - st.ExpectedFailovers;
            unexpectedFailovers += extra;
            st.Notes.Add($"{extra} unexpected failover(s) (config epoch {epochBefore} -> {epochBefore + failovers})");
            log($"chaos: {extra} unexpected failover(s) at step {p.Step} ({p}), config epoch {epochBefore} -> {epochBefore + failovers}; server logs:\n{ServerTails(40)}");
        }
        await CheckLostAsync(st, after);
        master = after;

        var recovery = st.Clock.Elapsed;
        await CheckWritesResumeAsync(ct);
        var gap = writer.LongestGap(ackedAtStart);
        foreach (var k in p.Kinds.Distinct())
        {
            Max(maxLabelSettle, k, st.LabelSettle);
            Max(maxRecovery, k, recovery);
            Max(maxWriteGap, k, gap);
        }
        var record = new ChaosStepRecord(p, before.Name, after.Name, recovery, st.SentinelSettle, st.LabelSettle, gap,
            writer.AckedCount - ackedAtStart, st.LostByRedis, string.Join("; ", st.Notes.Prepend(string.Join(" ", st.Phases))));
        stepLog.Add(record);
        log("chaos: " + record);
    }

    /// <summary>What a handover that follows <paramref name="p"/>'s first fault must answer.</summary>
    static Expect ExpectationAfter(PlannedStep p) => p.Fault.Kind switch
    {
        FaultKind.SentinelsTilt => Expect.NotIntoTilt,
        // The set still has a Sentinel majority able to act and an online replica: the handover must succeed.
        FaultKind.ApiFailure or FaultKind.KillMaster or FaultKind.EmptyMasterRestart or FaultKind.RestartSentinel
            or FaultKind.Handover or FaultKind.ResyncReplica or FaultKind.SentinelsDown or FaultKind.RestartReplica => Expect.HandedOver,
        _ => Expect.Documented,
    };

    /// <summary>What a handover's answer must be.</summary>
    enum Expect
    {
        /// <summary>HandedOver: the set can hand over (a Sentinel majority that can act, an online replica).</summary>
        HandedOver,
        /// <summary>Right after every Sentinel was paused (TILT): HandedOver if TILT ends within the bound, else NoSentinelReady with writes never paused.</summary>
        NotIntoTilt,
        /// <summary>Any documented outcome, with its consequences checked.</summary>
        Documented,
    }

    sealed class StepState
    {
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public TimeSpan SentinelSettle { get; set; }
        public TimeSpan LabelSettle { get; set; }
        public List<Loss> Losses { get; } = [];
        public int LostByRedis { get; set; }
        public int Failovers { get; set; }
        public int ExpectedFailovers { get; set; }
        public List<string> Notes { get; } = [];
        public List<string> Phases { get; } = [];
        /// <summary>Checks that need the step's settled master.</summary>
        public List<Func<Node, Task>> AtEnd { get; } = [];
        public void Mark(string what) => Phases.Add($"{what}@{Clock.Elapsed.TotalSeconds:0.0}s");
    }

    /// <summary>What was known the moment a master went away: replica offsets (frozen) and the last acknowledged write.</summary>
    sealed record Loss(Node OldMaster, long LastAckedBefore, IReadOnlyDictionary<Node, long> ReplicaOffsets)
    {
        /// <summary>The master Sentinel settled on (or the next master lost) after this loss.</summary>
        public Node? Promoted { get; set; }

        public override string ToString() =>
            $"master {OldMaster.Name} lost after write #{LastAckedBefore}; replica offsets " + string.Join(", ", ReplicaOffsets.Select(r => $"{r.Key.Name}={r.Value}"));
    }

    // ---------------------------------------------------------------- plumbing

    IReadOnlyCollection<Node> LeftOut => [.. down, .. hungSentinels];

    IEnumerable<Node> LiveSentinels => set.Sentinels.Where(x => x.Running && !hungSentinels.Contains(x));

    bool IsStopping(int i)
    {
        lock (stoppingSidecars) return stoppingSidecars.Contains(i);
    }

    void Stopping(int i, bool on)
    {
        lock (stoppingSidecars) { if (on) stoppingSidecars.Add(i); else stoppingSidecars.Remove(i); }
    }

    void Count(string invariant) => checks[invariant] = checks.GetValueOrDefault(invariant) + 1;

    void Violate(string invariant, string message)
    {
        failed[invariant] = failed.GetValueOrDefault(invariant) + 1;
        var v = new ChaosViolation(o.Seed, step, fault, invariant, message, Diagnostics());
        violations.Add(v);
        log($"chaos: VIOLATION {invariant} at step {step} ({fault}), seed {o.Seed}: {message}");
        if (o.StopOnFirstViolation) throw new ChaosViolationException(v);
    }

    /// <summary>Leaves nothing behind after an aborted run: API faults cleared, paused processes resumed.</summary>
    async Task EndFaultsAsync()
    {
        s.Api.ClearFaults();
        await s.Api.AcceptConnectionsAsync();
        foreach (var n in set.Redis.Concat(set.Sentinels)) set.Resume(n);
        hungSentinels.Clear();
        await ResetSaveDelayAsync();
    }

    string Diagnostics()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("--- steps so far");
        foreach (var r in stepLog) sb.AppendLine(r.ToString());
        sb.AppendLine("--- label timeline (last 20 changes)");
        foreach (var c in s.Api.Timeline.Changes.Where(c => c.Key == L).TakeLast(20))
            sb.AppendLine($"{c.WallTime:HH:mm:ss.fff} {c.Pod}: {c.OldValue ?? "-"} -> {c.NewValue ?? "-"} ({c.Source})");
        sb.AppendLine("--- master Service ready endpoints (last 12 changes)");
        foreach (var c in s.MasterEndpoints().Changes.TakeLast(12))
            sb.AppendLine($"{c.WallTime:HH:mm:ss.fff} [{string.Join(",", c.Ready)}]");
        sb.AppendLine("--- servers");
        sb.Append(set.Diagnostics());
        sb.AppendLine("--- sidecars");
        sb.Append(s.Diagnostics());
        return sb.ToString();
    }

    /// <summary>
    /// Per sidecar: what its /metrics and log say about the failovers it saw (how many +switch-master events it
    /// accepted, how many failovers it counted, how many event-to-label latencies it recorded).
    /// </summary>
    async Task<IReadOnlyList<string>> SidecarStatsAsync()
    {
        var lines = new List<string>();
        for (var i = 0; i < set.Redis.Count; i++)
        {
            var body = await MetricsAsync(i) ?? "";
            var log = File.Exists(s.SidecarLog(i)) ? File.ReadAllText(s.SidecarLog(i)) : "";
            int Count(string what) => log.Split('\n').Count(l => l.Contains(what, StringComparison.Ordinal));
            lines.Add($"{set.Redis[i].Name}: +switch-master events accepted={Count("accepted=True") + Count("newer=True")} ignored={Count("accepted=False") + Count("newer=False")}; "
                + $"failovers_observed_total={Metric(body, "redis_sidecar_failovers_observed_total") ?? "?"} "
                + $"event_to_label_seconds_count={Metric(body, "redis_sidecar_event_to_label_seconds_count") ?? "?"} "
                + $"label_patches_total={Metric(body, "redis_sidecar_label_patches_total") ?? "?"} api_errors_total={Metric(body, "redis_sidecar_api_errors_total") ?? "?"}");
        }
        return lines;
    }

    async Task<string?> MetricsAsync(int i)
    {
        try { return (await s.HttpAsync(i, "GET", "/metrics")).Body; }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return null; }
    }

    static string? Metric(string body, string name) =>
        body.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal))?[(name.Length + 1)..].Trim();

    string ServerTails(int lines)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var n in set.Redis.Concat(set.Sentinels))
        {
            sb.AppendLine($"--- {n.Name} {n.Address} running={n.Running}");
            sb.Append(Text.Tail(n.LogPath, lines));
        }
        return sb.ToString();
    }

    async Task<string> ReplicationDetailAsync()
    {
        var sb = new System.Text.StringBuilder("replication now:");
        foreach (var n in set.Redis)
        {
            var r = await set.ReplicationAsync(n);
            var detail = r is null ? "(no answer)"
                : r.Role == Core.Roles.LocalRole.Master
                    ? $"master offset={r.Offset} replicas=[{string.Join(" ", (r.Replicas ?? []).Select(x => $"{x.Address}:{x.State}@{x.Offset}"))}]"
                    : $"{r.Describe()} of {r.MasterOf} offset={r.Offset}";
            sb.Append($" [{n.Name}{(down.Contains(n) ? " (down)" : "")}: {detail}]");
        }
        return sb.ToString();
    }

    int IndexOf(Node n)
    {
        for (var i = 0; i < set.Redis.Count; i++) if (set.Redis[i] == n) return i;
        throw new ArgumentException($"{n.Name} is not a Redis pod of this set", nameof(n));
    }

    /// <summary>Polls until <paramref name="problem"/> returns null; false when <paramref name="timeout"/> passes first.</summary>
    static async Task<bool> PollAsync(Func<Task<string?>> problem, TimeSpan timeout, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (await problem() is null) return true;
            if (sw.Elapsed >= timeout) return false;
            await Task.Delay(100, ct);
        }
    }

    static TimeSpan Seconds(double s) => TimeSpan.FromSeconds(s);

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    static void Max(Dictionary<FaultKind, TimeSpan> d, FaultKind k, TimeSpan v)
    {
        if (!d.TryGetValue(k, out var cur) || v > cur) d[k] = v;
    }
}
