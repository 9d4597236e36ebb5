namespace RedisSidecars.E2E.Analysis;

/// <summary>A target from the issue, measured: printed PASS/FAIL next to the measurement, never failing the run.</summary>
public sealed record TargetResult(string Name, string Measured, string Target, bool? Met);

/// <summary>The targets (issue): per handover the master Service has a ready endpoint again within 1.5 s of the
/// promotion; a write gap of at most 2 s per handover; a rolling restart of a 3-pod set causes exactly one handover
/// unless the master is the first pod restarted.</summary>
public static class Targets
{
    public static readonly TimeSpan EndpointWithin = TimeSpan.FromSeconds(1.5);
    public static readonly TimeSpan WriteGapAtMost = TimeSpan.FromSeconds(2);

    public static TargetResult EndpointAfterPromotion(string promotion, TimeSpan? readyAfter) =>
        new($"master Service ready after promotion ({promotion})",
            readyAfter is { } t ? Seconds(t) : "never seen ready",
            $"≤ {Seconds(EndpointWithin)}",
            readyAfter is { } r && r <= EndpointWithin);

    public static TargetResult WriteGap(WriteGap? gap) =>
        new("longest write gap",
            gap is null ? "fewer than two acknowledged writes" : $"{Seconds(gap.Length)} (between writes {gap.AfterSeq} and {gap.BeforeSeq})",
            $"≤ {Seconds(WriteGapAtMost)} per handover",
            gap is not null && gap.Length <= WriteGapAtMost);

    /// <summary>Exactly one handover, unless the master was the first pod restarted (then the target does not apply);
    /// only for a 3-pod set.</summary>
    public static TargetResult RollingRestartHandovers(int handovers, string? initialMaster, string? firstRestarted, int replicas)
    {
        const string name = "handovers during the rolling restart";
        if (replicas != 3) return new(name, handovers.ToString(System.Globalization.CultureInfo.InvariantCulture), "exactly 1 (3-pod sets only)", null);
        if (initialMaster is not null && initialMaster == firstRestarted)
            return new(name, $"{handovers} (the master {initialMaster} was restarted first)", "exactly 1 unless the master is restarted first", null);
        return new(name, handovers.ToString(System.Globalization.CultureInfo.InvariantCulture), "exactly 1", handovers == 1);
    }

    public static string Seconds(TimeSpan t) => $"{t.TotalSeconds.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)} s";
}
