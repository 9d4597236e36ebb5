using System.Globalization;
using System.Text;

namespace RedisSidecars.Testing.Chaos;

/// <summary>The faults the chaos suite injects (issue 5, section 3). A "human" label edit is deliberately not one of them.</summary>
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
    /// <summary>Every API request answers 503 for a while; in some steps the master is also killed during the outage.</summary>
    ApiFailure,
    /// <summary>Planned handover: POST /handover to the master's sidecar, or SIGTERM it (then start it again).</summary>
    Handover,
    /// <summary>SIGSTOP one Sentinel for seconds (a hung node), then SIGCONT: the majority is intact, nothing may change.</summary>
    PauseSentinel,
}

/// <summary>
/// One planned step. Every parameter is drawn from the seed before the run starts, so a seed names the
/// same sequence of faults (timing on a real machine still varies from run to run).
/// </summary>
/// <param name="Seconds">KillMaster/PauseMaster: extra time after the failover before the restart/SIGCONT;
/// RestartSentinel: time the Sentinel stays down; SentinelsDown: total down time; ApiFailure: outage length.</param>
/// <param name="Target">RestartReplica: which replica (0/1, in ordinal order of the current replicas); RestartSentinel: which Sentinel;
/// ApiFailure: 0 = the outage alone, 1 = kill -9 the master during it, 2 = POST /handover to the master during it.</param>
/// <param name="Variant">RestartReplica: true = SIGTERM, false = SIGKILL; Handover: true = SIGTERM to the sidecar, false = POST /handover.</param>
/// <param name="At">ApiFailure with a kill or a handover: the fraction of the outage after which it happens.</param>
public sealed record PlannedFault(int Step, FaultKind Kind, double Seconds, int Target, bool Variant, double At)
{
    public override string ToString() => Kind switch
    {
        FaultKind.KillMaster => $"KillMaster(restart {Seconds:0.0}s after the failover)",
        FaultKind.PauseMaster => $"PauseMaster(SIGCONT {Seconds:0.0}s after the failover)",
        FaultKind.RestartReplica => $"RestartReplica(replica #{Target}, {(Variant ? "SIGTERM" : "SIGKILL")})",
        FaultKind.RestartSentinel => $"RestartSentinel(sentinel-{Target}, down {Seconds:0.0}s)",
        FaultKind.EmptyMasterRestart => "EmptyMasterRestart",
        FaultKind.SentinelsDown => $"SentinelsDown({Seconds:0.0}s)",
        FaultKind.ApiFailure => $"ApiFailure(503 for {Seconds:0.0}s{Target switch { 1 => $", kill -9 the master after {Seconds * At:0.0}s", 2 => $", POST /handover after {Seconds * At:0.0}s", _ => "" }})",
        FaultKind.Handover => $"Handover({(Variant ? "SIGTERM" : "POST /handover")})",
        FaultKind.PauseSentinel => $"PauseSentinel(sentinel-{Target}, {Seconds:0.0}s)",
        _ => Kind.ToString(),
    };

    /// <summary>Whether this step takes the master down without a handover (acknowledged-write rules for kill -9 apply).</summary>
    public bool UnplannedMasterLoss => Kind is FaultKind.KillMaster or FaultKind.PauseMaster or FaultKind.EmptyMasterRestart
        || (Kind == FaultKind.ApiFailure && Target == 1);

    /// <summary>How many failovers (config-epoch increments) this step should cause; null = zero or one (a handover that may fail).</summary>
    public int? ExpectedFailovers => Kind switch
    {
        FaultKind.KillMaster or FaultKind.PauseMaster or FaultKind.EmptyMasterRestart or FaultKind.Handover => 1,
        FaultKind.ApiFailure => Target switch { 1 => 1, 2 => null, _ => 0 },
        _ => 0,
    };
}

public sealed record ChaosOptions
{
    public const int DefaultSeed = 5_2026;
    public const string SeedVariable = "CHAOS_SEED";
    public const string StepsVariable = "CHAOS_STEPS";
    public const string DownAfterVariable = "CHAOS_DOWN_AFTER_MS";
    public const string FaultsVariable = "CHAOS_FAULTS";
    public const string ContinueVariable = "CHAOS_CONTINUE";

    public int Seed { get; init; } = DefaultSeed;
    public int Steps { get; init; } = 8;

    /// <summary>The fault kinds to draw from; null = all of <see cref="FaultKind"/>.</summary>
    public IReadOnlyList<FaultKind>? Faults { get; init; }

    /// <summary>Every kind occurs at least once when there are at least as many steps as kinds (the first steps are a seeded shuffle of all kinds).</summary>
    public bool GuaranteeCoverage { get; init; } = true;

    /// <summary>Invariant 2's bound: from "Sentinel settled" to "labels and readiness match DESIGN.md's table".</summary>
    public TimeSpan SettleBound { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long Sentinel itself may take to settle (agree on a master that has its replicas online).</summary>
    public TimeSpan SentinelSettleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Throw <see cref="ChaosViolationException"/> at the first violation (CI); otherwise record it and go on (long runs).</summary>
    public bool StopOnFirstViolation { get; init; } = true;

    /// <summary>
    /// Sentinel's down-after-milliseconds for the run (applied with SENTINEL SET at the start and given to redis-init for
    /// every restart); null keeps the set's own (1000 ms in <see cref="RedisSet.EnvFor"/>). Why 2000 by default: at
    /// 1000 ms, equal to Sentinel's fixed 1 s ping/reconnect period, a Sentinel that has just switched to a new master can
    /// declare it down before it has even reconnected to it, and the peers' "master down" replies from the failover just
    /// finished (kept for 5 s) make that an immediate ODOWN: a second failover of a healthy master, which loses
    /// WAIT-acknowledged writes in Redis itself (seen with seed 77). <c>CHAOS_DOWN_AFTER_MS</c> overrides.
    /// </summary>
    public int? SentinelDownAfterMs { get; init; } = 2000;

    /// <summary>Progress lines (seed first, one line per step, the summary). Null = Console.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// <paramref name="defaults"/> with the environment applied: <c>CHAOS_SEED</c>, <c>CHAOS_STEPS</c>,
    /// <c>CHAOS_DOWN_AFTER_MS</c>, <c>CHAOS_FAULTS</c> (comma-separated <see cref="FaultKind"/> names) and
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
    int Step,
    PlannedFault Fault,
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
        $"step {Step} {Fault}: master {MasterBefore} -> {MasterAfter}; recovered in {Recovery.TotalSeconds:0.0}s "
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
    public required IReadOnlyDictionary<FaultKind, int> Faults { get; init; }
    /// <summary>Invariant checks that passed, by invariant name.</summary>
    public required IReadOnlyDictionary<string, int> Checks { get; init; }
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
    public required int UnexpectedFailovers { get; init; }
    public required int WriterErrors { get; init; }
    /// <summary>Sidecar processes that exited on their own (each is also a violation; the runner restarts them).</summary>
    public required int SidecarCrashes { get; init; }
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
        sb.AppendLine($"acked writes={AckedWrites} lost={LostWrites} lost-by-redis(kill -9)={LostByRedis} writer errors={WriterErrors} unexpected failovers={UnexpectedFailovers} sidecar crashes={SidecarCrashes}");
        if (Faults.ContainsKey(FaultKind.PauseMaster))
            sb.AppendLine($"old master after SIGCONT: {StaleClientWrites} plain writes accepted on stale pooled connections, longest window {MaxStaleClientWindow.TotalSeconds:0.0}s");
        sb.AppendLine("| fault | count | max label settle | max recovery | max write gap |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var k in Enum.GetValues<FaultKind>())
        {
            var n = Faults.GetValueOrDefault(k);
            if (n == 0) continue;
            sb.AppendLine($"| {k} | {n} | {Seconds(MaxLabelSettle, k)} | {Seconds(MaxRecovery, k)} | {Seconds(MaxWriteGap, k)} |");
        }
        sb.AppendLine("checks: " + string.Join(", ", Checks.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}")));
        foreach (var l in SidecarStats) sb.AppendLine("sidecar " + l);
        return sb.ToString();
    }

    static string Seconds(IReadOnlyDictionary<FaultKind, TimeSpan> d, FaultKind k) =>
        d.TryGetValue(k, out var t) ? $"{t.TotalSeconds:0.00}s" : "-";
}
