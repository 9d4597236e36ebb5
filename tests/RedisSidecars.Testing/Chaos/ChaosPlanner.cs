namespace RedisSidecars.Testing.Chaos;

/// <summary>One kind of compound step: <see cref="Lead"/>, then <see cref="Follow"/> landing during it or after it.</summary>
public sealed record CompoundPair(FaultKind Lead, bool During, FaultKind Follow)
{
    public override string ToString() => $"{Lead}{(During ? " during " : " then ")}{Follow}";
}

/// <summary>
/// Turns a seed into steps (pure): which faults, which compound pairs, every parameter and every gap. The same seed,
/// step count and kinds give the same plan.
/// </summary>
public static class ChaosPlanner
{
    /// <summary>
    /// The compound pairs that broke a real cluster or are named by the design (the next fault landing while the last
    /// one's aftermath is still there); coverage takes these first.
    /// </summary>
    public static IReadOnlyList<CompoundPair> KeyPairs { get; } =
    [
        new(FaultKind.SentinelsTilt, false, FaultKind.Handover),   // a handover within 30 s of every Sentinel being paused (TILT)
        new(FaultKind.ApiFailure, true, FaultKind.Handover),       // a handover with the API down (each outage mode)
        new(FaultKind.ResyncReplica, true, FaultKind.KillMaster),  // the master killed while a replica full-syncs
        new(FaultKind.KillMaster, false, FaultKind.Handover),      // killed, failed over, restarted through redis-init, then a handover
        new(FaultKind.KillMaster, true, FaultKind.RestartSentinel),// a Sentinel restarted mid-failover
        new(FaultKind.KillMaster, true, FaultKind.ApiFailure),     // the API failing during a failover
    ];

    /// <summary>Every compound pair the planner draws from (<see cref="KeyPairs"/> first).</summary>
    public static IReadOnlyList<CompoundPair> Pairs { get; } = [.. KeyPairs.Concat(new CompoundPair[]
    {
        new(FaultKind.ApiFailure, true, FaultKind.KillMaster),
        new(FaultKind.ApiFailure, true, FaultKind.PauseMaster),
        new(FaultKind.ApiFailure, true, FaultKind.RestartSentinel),
        new(FaultKind.ApiFailure, true, FaultKind.RestartReplica),
        new(FaultKind.ResyncReplica, true, FaultKind.Handover),
        new(FaultKind.ResyncReplica, true, FaultKind.PauseMaster),
        new(FaultKind.ResyncReplica, true, FaultKind.ApiFailure),
        new(FaultKind.ResyncReplica, true, FaultKind.RestartSentinel),
        new(FaultKind.KillMaster, true, FaultKind.PauseSentinel),
        new(FaultKind.PauseMaster, true, FaultKind.RestartSentinel),
        new(FaultKind.PauseMaster, true, FaultKind.ApiFailure),
        new(FaultKind.Handover, true, FaultKind.RestartSentinel),
        new(FaultKind.Handover, true, FaultKind.ApiFailure),
        new(FaultKind.Handover, true, FaultKind.PauseSentinel),
        new(FaultKind.SentinelsTilt, false, FaultKind.KillMaster),
        new(FaultKind.SentinelsTilt, false, FaultKind.RestartSentinel),
        new(FaultKind.SentinelsTilt, false, FaultKind.RestartReplica),
        new(FaultKind.SentinelsTilt, false, FaultKind.ApiFailure),
        new(FaultKind.KillMaster, false, FaultKind.KillMaster),
        new(FaultKind.KillMaster, false, FaultKind.PauseMaster),
        new(FaultKind.EmptyMasterRestart, false, FaultKind.Handover),
        new(FaultKind.EmptyMasterRestart, false, FaultKind.KillMaster),
        new(FaultKind.RestartSentinel, false, FaultKind.Handover),
        new(FaultKind.RestartSentinel, false, FaultKind.KillMaster),
        new(FaultKind.Handover, false, FaultKind.Handover),
        new(FaultKind.Handover, false, FaultKind.KillMaster),
        new(FaultKind.SentinelsDown, false, FaultKind.Handover),
        new(FaultKind.SentinelsDown, false, FaultKind.KillMaster),
        new(FaultKind.RestartReplica, false, FaultKind.Handover),
    })];

    /// <summary>The steps <paramref name="o"/> stands for: its <see cref="ChaosOptions.Script"/>, or the seeded plan.</summary>
    public static IReadOnlyList<PlannedStep> Plan(ChaosOptions o)
    {
        if (o.Script is { } script) return script;
        var rng = new Random(o.Seed);
        var kinds = (o.Faults is { Count: > 0 } ? o.Faults : Enum.GetValues<FaultKind>()).Distinct().ToArray();
        var pairs = Pairs.Where(p => kinds.Contains(p.Lead) && kinds.Contains(p.Follow)).ToArray();

        // What each step is: a kind alone or a pair.
        var shapes = new List<object>();
        if (o.GuaranteeCoverage)
        {
            var singles = kinds.ToArray();
            rng.Shuffle(singles);
            shapes.AddRange(singles.Cast<object>());
            var key = pairs.Where(KeyPairs.Contains).ToArray();
            var rest = pairs.Where(p => !KeyPairs.Contains(p)).ToArray();
            rng.Shuffle(key);
            rng.Shuffle(rest);
            shapes.AddRange(key.Concat(rest));
            if (shapes.Count > o.Steps) shapes.RemoveRange(o.Steps, shapes.Count - o.Steps);
        }
        while (shapes.Count < o.Steps)
            shapes.Add(pairs.Length > 0 && rng.NextDouble() < o.CompoundShare ? pairs[rng.Next(pairs.Length)] : kinds[rng.Next(kinds.Length)]);

        var plan = new List<PlannedStep>();
        for (var i = 0; i < shapes.Count; i++)
        {
            // Every step draws the same amount of randomness, whatever its shape.
            var first = Draw(rng, shapes[i] is CompoundPair p0 ? p0.Lead : (FaultKind)shapes[i], o.MaxGap);
            var second = Draw(rng, shapes[i] is CompoundPair p1 ? p1.Follow : FaultKind.Handover, o.MaxGap);
            var gap = rng.NextDouble() * o.MaxGap;
            if (shapes[i] is not CompoundPair pair) { plan.Add(new PlannedStep(i + 1, first)); continue; }
            if (pair.During)
            {
                // The second fault must land while the first is still in force.
                gap = pair.Lead switch
                {
                    FaultKind.ApiFailure or FaultKind.ResyncReplica => Math.Min(gap, Math.Max(0, first.Seconds - 1.5)),
                    FaultKind.Handover => gap * 0.3,
                    _ => gap,
                };
            }
            plan.Add(new PlannedStep(i + 1, first, second, Math.Round(gap, 1), pair.During));
        }
        return plan;
    }

    static PlannedFault Draw(Random rng, FaultKind kind, double maxGap)
    {
        double a = rng.NextDouble();
        int t = rng.Next(3);
        bool v = rng.Next(2) == 0, v3 = rng.Next(3) == 0;
        var mode = Enum.GetValues<ApiOutage>()[rng.Next(Enum.GetValues<ApiOutage>().Length)];
        return kind switch
        {
            FaultKind.KillMaster => new(kind, Seconds: Math.Round(3 * a, 1)),
            FaultKind.PauseMaster => new(kind, Seconds: Math.Round(2 * a, 1)),
            FaultKind.RestartReplica => new(kind, Target: t % 2, Variant: v),
            FaultKind.RestartSentinel => new(kind, Seconds: Math.Round(2 * a, 1), Target: t),
            FaultKind.EmptyMasterRestart => new(kind),
            FaultKind.SentinelsDown => new(kind, Seconds: Math.Round(1 + 3 * a, 1)),
            FaultKind.ApiFailure => new(kind, Seconds: Math.Round(4 + 6 * a, 1), Api: mode),
            FaultKind.Handover => new(kind, Variant: v3),
            FaultKind.PauseSentinel => new(kind, Seconds: Math.Round(4 + 6 * a, 1), Target: t),
            FaultKind.SentinelsTilt => new(kind, Seconds: Math.Round(2.5 + 1.5 * a, 1)),
            FaultKind.ResyncReplica => new(kind, Seconds: Math.Round(4 + 4 * a, 1), Target: t % 2),
            FaultKind.RollingRestart => new(kind, Seconds: Math.Round(maxGap * a, 1)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no parameters for this kind"),
        };
    }
}
