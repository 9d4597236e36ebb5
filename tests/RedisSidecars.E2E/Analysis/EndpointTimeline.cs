namespace RedisSidecars.E2E.Analysis;

/// <summary>One look at the master Service's EndpointSlices: the pods (or addresses) with a ready endpoint.</summary>
public sealed record EndpointSample(TimeSpan At, IReadOnlyList<string> Ready);

/// <summary>What the samples in a window show: the longest stretch without a ready endpoint (from the first sample
/// with none to the next sample with one; ± one sampling interval) and the most ready endpoints seen at once.</summary>
public sealed record EndpointSummary(int Samples, TimeSpan LongestWithoutReady, TimeSpan? LongestStartedAt, int MostReadyAtOnce, IReadOnlyList<string> MostReadyPods);

public static class EndpointTimeline
{
    public static EndpointSummary Analyze(IReadOnlyList<EndpointSample> samples, TimeSpan from, TimeSpan to)
    {
        var window = samples.Where(s => s.At >= from && s.At <= to).OrderBy(s => s.At).ToArray();
        var longest = TimeSpan.Zero;
        TimeSpan? longestStart = null;
        TimeSpan? emptySince = null;
        var most = window.Length == 0 ? null : window.MaxBy(s => s.Ready.Count);
        foreach (var s in window)
        {
            if (s.Ready.Count == 0)
            {
                emptySince ??= s.At;
                continue;
            }
            if (emptySince is { } start && s.At - start > longest)
            {
                longest = s.At - start;
                longestStart = start;
            }
            emptySince = null;
        }
        // Still empty at the end of the window: the stretch runs to the last sample.
        if (emptySince is { } open && window[^1].At - open >= longest && window.Length > 0)
        {
            longest = window[^1].At - open;
            longestStart = open;
        }
        return new EndpointSummary(window.Length, longest, longestStart, most?.Ready.Count ?? 0, most?.Ready ?? []);
    }

    /// <summary>
    /// From a promotion to the first sample at or after it in which <paramref name="newMaster"/> has a ready endpoint
    /// (zero when the sample just before the promotion already had it); null when no later sample has it.
    /// </summary>
    public static TimeSpan? ReadyAfter(IReadOnlyList<EndpointSample> samples, TimeSpan promotion, string newMaster)
    {
        var ordered = samples.OrderBy(s => s.At).ToArray();
        var before = ordered.LastOrDefault(s => s.At < promotion);
        if (before is not null && before.Ready.Contains(newMaster)) return TimeSpan.Zero;
        var first = ordered.FirstOrDefault(s => s.At >= promotion && s.Ready.Contains(newMaster));
        return first is null ? null : first.At - promotion;
    }
}
