using System.Globalization;
using System.Text;

namespace RedisSidecars.Testing.Chaos;

/// <summary>The faults the chaos suite injects. A "human" label edit is deliberately not one of them.</summary>
public enum FaultKind
{
    /// <summary>kill -9 the master; once Sentinel has failed over, restart the pod through redis-init.</summary>
    KillMaster,
    /// <summary>SIGSTOP the master until Sentinel has failed over (past down-after), then SIGCONT.</summary>
    PauseMaster,
    /// <summary>Stop a replica (SIGKILL or SIGTERM) and restart it through redis-init.</summary>
    RestartReplica,
    /// <summary>kill -9 one Sentinel and restart it through redis-init (a new config, same deterministic myid).</summary>
    RestartSentinel,
    /// <summary>kill -9 the master, delete its data dir, restart through redis-init: the empty-restart guard must make it a replica.</summary>
    EmptyMasterRestart,
    /// <summary>kill -9 every Sentinel for longer than SENTINEL_LOSS_GRACE_MS, then restart them from their rewritten configs.</summary>
    SentinelsDown,
    /// <summary>The Kubernetes API fails for a while, in one of the <see cref="ApiOutage"/> ways.</summary>
    ApiFailure,
    /// <summary>Planned handover: POST /handover to the master's sidecar (the preStop hook), or SIGTERM it (then start it again).</summary>
    Handover,
    /// <summary>SIGSTOP one Sentinel for seconds (a hung node), then SIGCONT: the majority is intact, nothing may change.</summary>
    PauseSentinel,
    /// <summary>SIGSTOP every Sentinel past the TILT trigger (more than 2 s between two timer runs), then SIGCONT: every Sentinel is in TILT for the next 30 s.</summary>
    SentinelsTilt,
    /// <summary>A replica restarted with an empty data dir through redis-init: a full sync, slowed to last seconds, so that the next fault lands while it runs.</summary>
    ResyncReplica,
    /// <summary>kubectl rollout restart: the controller recreates the pods highest ordinal first, each pod's Redis restarted through redis-init, the master handing over (preStop) when its turn comes.</summary>
    RollingRestart,
}

/// <summary>How the Kubernetes API fails during an <see cref="FaultKind.ApiFailure"/>.</summary>
public enum ApiOutage
{
    /// <summary>Every request answers 503.</summary>
    Status503,
    /// <summary>Connections accepted, nothing ever answered; watches open at the start never get another byte, even afterwards.</summary>
    Blackhole,
    /// <summary>The listener is closed (connect fails with ECONNREFUSED) and every open connection reset.</summary>
    Refused,
    /// <summary>The API answers, but every watch is cut (abruptly or cleanly, alternately) about every 700 ms, and the watch history is compacted (410 on resume).</summary>
    WatchesCut,
    /// <summary>Every request is held until the outage ends, then served (a client that gave up meanwhile got nothing).</summary>
    Hang,
    /// <summary>Every request takes 2–4 s (an overloaded API server).</summary>
    Slow,
}

/// <summary>
/// One fault with its parameters. Every parameter is drawn from the seed before the run starts, so a seed names the
/// same sequence of faults (timing on a real machine still varies from run to run). A regression test writes its
/// faults out with these records.
/// </summary>
/// <param name="Seconds">KillMaster/PauseMaster: extra time after the failover before the restart/SIGCONT;
/// RestartSentinel: time the Sentinel stays down; SentinelsDown: total down time; ApiFailure: outage length;
/// PauseSentinel: pause length; SentinelsTilt: how long every Sentinel is stopped (above 2 s: TILT);
/// ResyncReplica: how long the full sync is made to last; RollingRestart: the pause between two pods (after the last is Ready).</param>
/// <param name="Target">RestartReplica/ResyncReplica: which replica (0/1, in ordinal order of the current replicas); RestartSentinel/PauseSentinel: which Sentinel.</param>
/// <param name="Variant">RestartReplica: true = SIGTERM, false = SIGKILL; Handover: true = SIGTERM to the sidecar, false = POST /handover.</param>
/// <param name="Api">ApiFailure: how the API fails.</param>
public sealed record PlannedFault(FaultKind Kind, double Seconds = 0, int Target = 0, bool Variant = false, ApiOutage Api = ApiOutage.Status503)
{
    public override string ToString() => Kind switch
    {
        FaultKind.KillMaster => $"KillMaster(restart {Seconds:0.0}s after the failover)",
        FaultKind.PauseMaster => $"PauseMaster(SIGCONT {Seconds:0.0}s after the failover)",
        FaultKind.RestartReplica => $"RestartReplica(replica #{Target}, {(Variant ? "SIGTERM" : "SIGKILL")})",
        FaultKind.RestartSentinel => $"RestartSentinel(sentinel-{Target}, down {Seconds:0.0}s)",
        FaultKind.EmptyMasterRestart => "EmptyMasterRestart",
        FaultKind.SentinelsDown => $"SentinelsDown({Seconds:0.0}s)",
        FaultKind.ApiFailure => $"ApiFailure({Api} for {Seconds:0.0}s)",
        FaultKind.Handover => $"Handover({(Variant ? "SIGTERM" : "POST /handover")})",
        FaultKind.PauseSentinel => $"PauseSentinel(sentinel-{Target}, {Seconds:0.0}s)",
        FaultKind.SentinelsTilt => $"SentinelsTilt(all stopped {Seconds:0.0}s)",
        FaultKind.ResyncReplica => $"ResyncReplica(replica #{Target}, full sync ~{Seconds:0.0}s)",
        FaultKind.RollingRestart => $"RollingRestart({Seconds:0.0}s between pods)",
        _ => Kind.ToString(),
    };
}

/// <summary>
/// One step: a fault alone, or a compound of two. With <see cref="Then"/>, the second fault lands <see cref="Gap"/>
/// seconds after the first: <see cref="During"/> = while the first is still in force (a master killed, Sentinel not yet
/// failed over; the API still down; the replica still syncing; the handover still running), else after the first has
/// run its course (restart done) while its aftermath is still there (Sentinels in TILT, a restarted master resyncing, a
/// restarted Sentinel relearning its peers, a handover's new master just promoted). Invariants are checked after the step.
/// </summary>
public sealed record PlannedStep(int Step, PlannedFault Fault, PlannedFault? Then = null, double Gap = 0, bool During = false)
{
    public IEnumerable<FaultKind> Kinds => Then is null ? [Fault.Kind] : [Fault.Kind, Then.Kind];

    /// <summary>"Lead+Follow" for compound steps (the table's key), null for a single fault.</summary>
    public string? Pair => Then is null ? null : $"{Fault.Kind}{(During ? " during " : " then ")}{Then.Kind}";

    public override string ToString() => Then is null ? Fault.ToString()
        : $"{Fault}, {(During ? "into it" : "after it")} +{Gap:0.0}s: {Then}";
}

public sealed record ChaosOptions
{
    public const int DefaultSeed = 5_2026;
    public const string SeedVariable = "CHAOS_SEED";
    public const string StepsVariable = "CHAOS_STEPS";
    public const string DownAfterVariable = "CHAOS_DOWN_AFTER_MS";
    public const string FaultsVariable = "CHAOS_FAULTS";
    public const string ContinueVariable = "CHAOS_CONTINUE";
    public const string CompoundVariable = "CHAOS_COMPOUND";
    public const string MaxGapVariable = "CHAOS_MAX_GAP_S";

    public int Seed { get; init; } = DefaultSeed;
    public int Steps { get; init; } = 8;

    /// <summary>The fault kinds to draw from; null = all of <see cref="FaultKind"/>. Compound steps use only pairs of these.</summary>
    public IReadOnlyList<FaultKind>? Faults { get; init; }

    /// <summary>
    /// Explicit steps to run instead of a seeded plan (a regression test writes its sequence out this way);
    /// <see cref="Seed"/> and <see cref="Steps"/> are then ignored for planning.
    /// </summary>
    public IReadOnlyList<PlannedStep>? Script { get; init; }

    /// <summary>
    /// Coverage first: the first steps are a seeded shuffle of every single kind, then of the key compound pairs
    /// (<see cref="ChaosPlanner.KeyPairs"/>), then of the other pairs, as far as <see cref="Steps"/> allows; random draws after that.
    /// </summary>
    public bool GuaranteeCoverage { get; init; } = true;

    /// <summary>The share of randomly drawn steps that are compound (two faults with a gap).</summary>
    public double CompoundShare { get; init; } = 0.5;

    /// <summary>The gap between the two faults of a compound step is drawn from [0, MaxGap] seconds.</summary>
    public double MaxGap { get; init; } = 5;

    /// <summary>Invariant 2's bound: from "Sentinel settled" to "labels and readiness match DESIGN.md's table".</summary>
    public TimeSpan SettleBound { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long Sentinel itself may take to settle (agree on a master that has its replicas online). Above TILT's 30 s plus a failover.</summary>
    public TimeSpan SentinelSettleTimeout { get; init; } = TimeSpan.FromSeconds(75);

    /// <summary>After the set settled, the writer (through the master Service) must acknowledge writes again within this.</summary>
    public TimeSpan WritesResumeBound { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Throw <see cref="ChaosViolationException"/> at the first violation (CI); otherwise record it and go on (long runs).</summary>
    public bool StopOnFirstViolation { get; init; } = true;

    /// <summary>
    /// Sentinel's down-after-milliseconds for the run (applied with SENTINEL SET at the start and given to redis-init for
    /// every restart); null keeps the set's own (see <see cref="RedisSet.EnvFor"/>). <c>CHAOS_DOWN_AFTER_MS</c> overrides.
    /// Why 3500: not 1000 — equal to Sentinel's fixed 1 s ping/reconnect period, a Sentinel that has just switched to a
    /// new master can declare it down before it has even reconnected to it, and the peers' "master down" replies from the
    /// failover just finished (kept for 5 s) make that an immediate ODOWN: a second failover of a healthy master, which
    /// loses WAIT-acknowledged writes in Redis itself (seen with seed 77). And above 3000: a Sentinel only promotes a
    /// replica whose link to the dead master has been down for less than 10 × down-after plus the time it has itself seen
    /// the master down; a master that dies while every Sentinel is in TILT (30 s, during which none marks it down) is
    /// then never failed over by them at 3000 or less (seen with seed 20261122: TILT, then the master killed). Production's
    /// 5000 is clear of both.
    /// </summary>
    public int? SentinelDownAfterMs { get; init; } = 3500;

    /// <summary>Progress lines (seed first, one line per step, the summary). Null = Console.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// <paramref name="defaults"/> with the environment applied: <c>CHAOS_SEED</c>, <c>CHAOS_STEPS</c>,
    /// <c>CHAOS_DOWN_AFTER_MS</c>, <c>CHAOS_FAULTS</c> (comma-separated <see cref="FaultKind"/> names),
    /// <c>CHAOS_COMPOUND</c> (share of compound steps, 0–1), <c>CHAOS_MAX_GAP_S</c> and
    /// <c>CHAOS_CONTINUE=1</c> (record violations and go on instead of stopping at the first).
    /// </summary>
    public static ChaosOptions FromEnvironment(ChaosOptions? defaults = null)
    {
        var o = defaults ?? new ChaosOptions();
        if (Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } seed)
            o = o with { Seed = int.Parse(seed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) };
        if (Environment.GetEnvironmentVariable(StepsVariable) is { Length: > 0 } steps)
            o = o with { Steps = int.Parse(steps, NumberStyles.None, CultureInfo.InvariantCulture) };
        if (Environment.GetEnvironmentVariable(DownAfterVariable) is { Length: > 0 } downAfter)
            o = o with { SentinelDownAfterMs = int.Parse(downAfter, NumberStyles.None, CultureInfo.InvariantCulture) };
        if (Environment.GetEnvironmentVariable(FaultsVariable) is { Length: > 0 } kinds)
            o = o with { Faults = [.. kinds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(k => Enum.Parse<FaultKind>(k, ignoreCase: true))] };
        if (Environment.GetEnvironmentVariable(CompoundVariable) is { Length: > 0 } share)
            o = o with { CompoundShare = double.Parse(share, NumberStyles.Float, CultureInfo.InvariantCulture) };
        if (Environment.GetEnvironmentVariable(MaxGapVariable) is { Length: > 0 } gap)
            o = o with { MaxGap = double.Parse(gap, NumberStyles.Float, CultureInfo.InvariantCulture) };
        if (Environment.GetEnvironmentVariable(ContinueVariable) is "1" or "true")
            o = o with { StopOnFirstViolation = false };
        return o;
    }
}

/// <summary>One broken invariant.</summary>
public sealed record ChaosViolation(int Seed, int Step, string Fault, string Invariant, string Message, string Diagnostics)
{
    public string Replay => $"{ChaosOptions.SeedVariable}={Seed} {ChaosOptions.StepsVariable}={Math.Max(Step, 1)}";

    public override string ToString() =>
        $"chaos invariant '{Invariant}' violated at step {Step} ({Fault}), seed {Seed} (replay: {Replay}):\n{Message}\n{Diagnostics}";
}

public sealed class ChaosViolationException(ChaosViolation violation) : Exception(violation.ToString())
{
    public ChaosViolation Violation { get; } = violation;
}

/// <summary>What one step did and measured.</summary>
public sealed record ChaosStepRecord(
    PlannedStep Step,
    string MasterBefore,
    string MasterAfter,
    TimeSpan Recovery,
    TimeSpan SentinelSettle,
    TimeSpan LabelSettle,
    TimeSpan WriteGap,
    int AckedDuring,
    int LostByRedis,
    string Note)
{
    public override string ToString() =>
        $"step {Step.Step} {Step}: master {MasterBefore} -> {MasterAfter}; recovered in {Recovery.TotalSeconds:0.0}s "
        + $"(Sentinel settled {SentinelSettle.TotalSeconds:0.0}s, labels +{LabelSettle.TotalSeconds:0.00}s); "
        + $"write gap {WriteGap.TotalSeconds:0.00}s; acked +{AckedDuring}"
        + (LostByRedis > 0 ? $"; {LostByRedis} lost by Redis (kill -9, lower-offset replica promoted)" : "")
        + (Note.Length > 0 ? "; " + Note : "");
}

public sealed record ChaosSummary
{
    public required int Seed { get; init; }
    public required int StepsPlanned { get; init; }
    public required int StepsRun { get; init; }
    public required TimeSpan Duration { get; init; }
    /// <summary>Steps in which each kind ran (alone or as part of a compound step).</summary>
    public required IReadOnlyDictionary<FaultKind, int> Faults { get; init; }
    /// <summary>Compound steps by pair ("Lead then/during Follow").</summary>
    public required IReadOnlyDictionary<string, int> Pairs { get; init; }
    /// <summary>API outages by mode.</summary>
    public required IReadOnlyDictionary<ApiOutage, int> ApiOutages { get; init; }
    /// <summary>Handover answers by outcome (the first word of the answer).</summary>
    public required IReadOnlyDictionary<string, int> HandoverOutcomes { get; init; }
    /// <summary>Invariant checks that passed, by invariant name.</summary>
    public required IReadOnlyDictionary<string, int> Checks { get; init; }
    /// <summary>Violations by invariant name.</summary>
    public required IReadOnlyDictionary<string, int> Failed { get; init; }
    /// <summary>Per fault kind, the longest time from "Sentinel settled" to "labels and readiness right" (invariant 2's bound applies to this).</summary>
    public required IReadOnlyDictionary<FaultKind, TimeSpan> MaxLabelSettle { get; init; }
    /// <summary>Per fault kind, the longest time from the fault's injection to the fully settled and checked state.</summary>
    public required IReadOnlyDictionary<FaultKind, TimeSpan> MaxRecovery { get; init; }
    /// <summary>Per fault kind, the longest gap between two acknowledged writes.</summary>
    public required IReadOnlyDictionary<FaultKind, TimeSpan> MaxWriteGap { get; init; }
    public required long AckedWrites { get; init; }
    /// <summary>Acknowledged writes lost in violation of the invariant.</summary>
    public required int LostWrites { get; init; }
    /// <summary>Acknowledged writes lost where Redis semantics allow it (kill -9 and Sentinel promoted a replica with a lower offset).</summary>
    public required int LostByRedis { get; init; }
    /// <summary>Instants at which two pods carried the master label (label timeline).</summary>
    public required int TwoMasterInstants { get; init; }
    /// <summary>Instants at which the master Service had two ready endpoints (endpoints timeline, kubelet-probed readiness).</summary>
    public required int TwoEndpointInstants { get; init; }
    public required int UnexpectedFailovers { get; init; }
    public required int WriterErrors { get; init; }
    /// <summary>Sidecar processes that exited on their own (each is also a violation; the runner restarts them).</summary>
    public required int SidecarCrashes { get; init; }
    /// <summary>/livez probes made, and failed (a 503, or no answer several times in a row from a running sidecar).</summary>
    public required int LivezProbes { get; init; }
    public required int LivezFailures { get; init; }
    /// <summary>PauseMaster: plain writes an old master accepted, after SIGCONT, on a pooled connection opened before the hang.</summary>
    public required int StaleClientWrites { get; init; }
    /// <summary>PauseMaster: the longest such window (the old master accepts writes until Sentinel converts it or its clients are killed).</summary>
    public required TimeSpan MaxStaleClientWindow { get; init; }
    /// <summary>Per sidecar, at the end: switch events accepted/ignored (log) and failover/label counters (/metrics; reset when a sidecar restarted).</summary>
    public required IReadOnlyList<string> SidecarStats { get; init; }
    public required IReadOnlyList<ChaosStepRecord> StepLog { get; init; }
    public required IReadOnlyList<ChaosViolation> Violations { get; init; }

    public int TotalChecks => Checks.Values.Sum();

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"chaos seed={Seed} steps={StepsRun}/{StepsPlanned} duration={Duration.TotalSeconds:0}s checks={TotalChecks} violations={Violations.Count}");
        sb.AppendLine($"acked writes={AckedWrites} lost={LostWrites} lost-by-redis(kill -9)={LostByRedis} two-masters instants={TwoMasterInstants} two-ready-endpoints instants={TwoEndpointInstants}");
        sb.AppendLine($"writer errors={WriterErrors} unexpected failovers={UnexpectedFailovers} sidecar crashes={SidecarCrashes} /livez probes={LivezProbes} failed={LivezFailures}");
        if (Faults.ContainsKey(FaultKind.PauseMaster))
            sb.AppendLine($"old master after SIGCONT: {StaleClientWrites} plain writes accepted on stale pooled connections, longest window {MaxStaleClientWindow.TotalSeconds:0.0}s");
        sb.AppendLine();
        sb.AppendLine("| fault (steps it ran in) | count | max label settle | max recovery | max write gap |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var k in Enum.GetValues<FaultKind>())
        {
            var n = Faults.GetValueOrDefault(k);
            if (n == 0) continue;
            sb.AppendLine($"| {k} | {n} | {Seconds(MaxLabelSettle, k)} | {Seconds(MaxRecovery, k)} | {Seconds(MaxWriteGap, k)} |");
        }
        if (Pairs.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("| compound step | count |");
            sb.AppendLine("| --- | ---: |");
            foreach (var (pair, n) in Pairs.OrderBy(p => p.Key, StringComparer.Ordinal)) sb.AppendLine($"| {pair} | {n} |");
        }
        sb.AppendLine();
        sb.AppendLine("| invariant | checks passed | violations |");
        sb.AppendLine("| --- | ---: | ---: |");
        foreach (var name in Checks.Keys.Union(Failed.Keys).Order(StringComparer.Ordinal))
            sb.AppendLine($"| {name} | {Checks.GetValueOrDefault(name)} | {Failed.GetValueOrDefault(name)} |");
        sb.AppendLine();
        if (ApiOutages.Count > 0) sb.AppendLine("API outages: " + string.Join(", ", ApiOutages.OrderBy(a => a.Key).Select(a => $"{a.Key}={a.Value}")));
        if (HandoverOutcomes.Count > 0) sb.AppendLine("handover answers: " + string.Join(", ", HandoverOutcomes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}")));
        foreach (var l in SidecarStats) sb.AppendLine("sidecar " + l);
        return sb.ToString();
    }

    static string Seconds(IReadOnlyDictionary<FaultKind, TimeSpan> d, FaultKind k) =>
        d.TryGetValue(k, out var t) ? $"{t.TotalSeconds:0.00}s" : "-";
}
