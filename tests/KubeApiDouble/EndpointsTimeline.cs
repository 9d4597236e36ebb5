using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>One pod's state as far as a Service's endpoints care, recorded after every change to the pod.</summary>
/// <param name="Elapsed">On the <see cref="LabelTimeline.Elapsed"/> clock.</param>
/// <param name="Exists">False once the pod is deleted.</param>
/// <param name="Ready">The pod's <c>Ready</c> condition is True.</param>
/// <param name="Terminating"><c>metadata.deletionTimestamp</c> is set.</param>
public sealed record PodState(
    TimeSpan Elapsed, DateTimeOffset WallTime, string Namespace, string Pod, bool Exists,
    IReadOnlyDictionary<string, string> Labels, bool Ready, bool Terminating);

/// <summary>The ready endpoints of a Service just after one change.</summary>
public sealed record EndpointsChange(TimeSpan Elapsed, DateTimeOffset WallTime, IReadOnlyList<string> Ready)
{
    public JsonObject ToJson() => new()
    {
        ["elapsedMs"] = Elapsed.TotalMilliseconds,
        ["time"] = WallTime.ToString("O"),
        ["ready"] = new JsonArray([.. Ready.Select(p => (JsonNode)p)]),
    };
}

/// <summary>
/// What the endpoints controller would publish for a Service with selector <see cref="Selector"/>: at every
/// instant, the pods that match the selector, are Ready and are not terminating. Built from the pod states the
/// double recorded (in the order it applied the changes), up to <see cref="Until"/>.
/// </summary>
public sealed class EndpointsTimeline
{
    private readonly IReadOnlyList<PodState> _states;

    public EndpointsTimeline(string @namespace, string selector, IReadOnlyList<PodState> states, TimeSpan until)
    {
        Namespace = @namespace;
        Selector = selector;
        Until = until;
        _states = [.. states.Where(s => s.Namespace == @namespace)];
        var parsed = LabelSelector.Parse(selector);
        var ready = new SortedSet<string>(StringComparer.Ordinal);
        List<EndpointsChange> changes = [];
        foreach (var s in _states)
        {
            var serving = s.Exists && s.Ready && !s.Terminating && parsed.Matches(s.Labels);
            if (serving ? ready.Add(s.Pod) : ready.Remove(s.Pod))
            {
                changes.Add(new EndpointsChange(s.Elapsed, s.WallTime, [.. ready]));
            }
        }

        Changes = changes;
    }

    public string Namespace { get; }

    public string Selector { get; }

    /// <summary>The instant the timeline was taken (open stretches end here).</summary>
    public TimeSpan Until { get; }

    /// <summary>Every change of the ready endpoints, in order.</summary>
    public IReadOnlyList<EndpointsChange> Changes { get; }

    /// <summary>The ready endpoints at <paramref name="instant"/>.</summary>
    public IReadOnlyList<string> ReadyAt(TimeSpan instant) => Changes.LastOrDefault(c => c.Elapsed <= instant)?.Ready ?? [];

    /// <summary>The largest number of ready endpoints at the same instant.</summary>
    public int MaxReadyAtOnce => Changes.Count == 0 ? 0 : Changes.Max(c => c.Ready.Count);

    /// <summary>True when two pods were ever ready endpoints at the same instant.</summary>
    public bool EverTwoReady => MaxReadyAtOnce > 1;

    /// <summary>
    /// The longest stretch within [<paramref name="from"/>, <paramref name="to"/>] (default: the whole timeline up to
    /// <see cref="Until"/>) during which the Service had no ready endpoint; zero when it always had one.
    /// </summary>
    public TimeSpan LongestWithoutReady(TimeSpan? from = null, TimeSpan? to = null)
    {
        var start = from ?? TimeSpan.Zero;
        var end = to ?? Until;
        var longest = TimeSpan.Zero;
        TimeSpan? emptySince = ReadyAt(start).Count == 0 ? start : null;
        foreach (var c in Changes.Where(c => c.Elapsed > start && c.Elapsed <= end))
        {
            if (c.Ready.Count == 0)
            {
                emptySince ??= c.Elapsed;
            }
            else if (emptySince is { } since)
            {
                longest = Max(longest, c.Elapsed - since);
                emptySince = null;
            }
        }

        return emptySince is { } open ? Max(longest, end - open) : longest;

        static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    }

    /// <summary>The instants <paramref name="pod"/>'s Ready condition went from True to anything else (or the pod was deleted while Ready).</summary>
    public IReadOnlyList<TimeSpan> WentNotReady(string pod)
    {
        List<TimeSpan> instants = [];
        var ready = false;
        foreach (var s in _states.Where(s => s.Pod == pod))
        {
            var now = s.Exists && s.Ready;
            if (ready && !now)
            {
                instants.Add(s.Elapsed);
            }

            ready = now;
        }

        return instants;
    }

    /// <summary>The instants <paramref name="pod"/> stopped being a ready endpoint of this Service.</summary>
    public IReadOnlyList<TimeSpan> LeftEndpoints(string pod)
    {
        List<TimeSpan> instants = [];
        var was = false;
        foreach (var c in Changes)
        {
            var now = c.Ready.Contains(pod);
            if (was && !now)
            {
                instants.Add(c.Elapsed);
            }

            was = now;
        }

        return instants;
    }

    public JsonObject ToJson() => new()
    {
        ["namespace"] = Namespace,
        ["selector"] = Selector,
        ["untilMs"] = Until.TotalMilliseconds,
        ["maxReadyAtOnce"] = MaxReadyAtOnce,
        ["longestWithoutReadyMs"] = LongestWithoutReady().TotalMilliseconds,
        ["changes"] = new JsonArray([.. Changes.Select(c => (JsonNode)c.ToJson())]),
    };
}
