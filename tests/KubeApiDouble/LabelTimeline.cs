using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>One label change on one pod.</summary>
/// <param name="Elapsed">Monotonic high-resolution time since the double started (use this to measure gaps).</param>
/// <param name="WallTime">Wall-clock time, for correlating with logs.</param>
/// <param name="OldValue">Null when the label was absent before.</param>
/// <param name="NewValue">Null when the label was removed (or the pod deleted).</param>
/// <param name="Source">"create", "patch", "status-patch", "human", "delete".</param>
public sealed record LabelChange(
    TimeSpan Elapsed,
    DateTimeOffset WallTime,
    string Namespace,
    string Pod,
    string Key,
    string? OldValue,
    string? NewValue,
    string Source)
{
    public JsonObject ToJson() => new()
    {
        ["elapsedMs"] = Elapsed.TotalMilliseconds,
        ["time"] = WallTime.ToString("O"),
        ["namespace"] = Namespace,
        ["pod"] = Pod,
        ["key"] = Key,
        ["old"] = OldValue,
        ["new"] = NewValue,
        ["source"] = Source,
    };
}

/// <summary>A span of the timeline; <see cref="End"/> is null while it is still open.</summary>
public sealed record LabelInterval(TimeSpan Start, TimeSpan? End, DateTimeOffset StartWall, DateTimeOffset? EndWall)
{
    /// <summary>Null while open.</summary>
    public TimeSpan? Duration => End - Start;

    public JsonObject ToJson() => new()
    {
        ["startMs"] = Start.TotalMilliseconds,
        ["endMs"] = End?.TotalMilliseconds,
        ["durationMs"] = Duration?.TotalMilliseconds,
        ["start"] = StartWall.ToString("O"),
        ["end"] = EndWall?.ToString("O"),
    };
}

/// <summary>
/// Every label change on every pod, in the order the double applied them (one lock orders them, so the
/// sequence is the true order of states), with helpers for "never two masters" and "how long without one".
/// </summary>
public sealed class LabelTimeline
{
    private readonly object _gate = new();
    private readonly List<LabelChange> _changes = [];
    private readonly List<(Func<LabelChange, bool> Match, TaskCompletionSource<LabelChange> Done)> _waiters = [];
    private readonly TimeProvider _time;
    private readonly long _origin;

    public LabelTimeline(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _origin = _time.GetTimestamp();
    }

    /// <summary>Monotonic time since this timeline (the double) started.</summary>
    public TimeSpan Elapsed => _time.GetElapsedTime(_origin);

    public IReadOnlyList<LabelChange> Changes
    {
        get
        {
            lock (_gate)
            {
                return [.. _changes];
            }
        }
    }

    /// <summary>Appends one change; the double calls this while it holds its own lock.</summary>
    public LabelChange Record(string ns, string pod, string key, string? oldValue, string? newValue, string source)
    {
        var change = new LabelChange(Elapsed, _time.GetUtcNow(), ns, pod, key, oldValue, newValue, source);
        List<TaskCompletionSource<LabelChange>> done = [];
        lock (_gate)
        {
            _changes.Add(change);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(change))
                {
                    done.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var tcs in done)
        {
            tcs.TrySetResult(change);
        }

        return change;
    }

    /// <summary>The largest number of pods that carried <paramref name="key"/>=<paramref name="value"/> at the same instant.</summary>
    public int MaxConcurrent(string key, string value)
    {
        var max = 0;
        Sweep(key, value, (_, count) => max = Math.Max(max, count));
        return max;
    }

    /// <summary>
    /// The intervals, after the label first appeared on some pod, during which no pod carried it
    /// (the last one is open, <c>End == null</c>, if no pod carries it now).
    /// </summary>
    public IReadOnlyList<LabelInterval> IntervalsWithout(string key, string value)
    {
        List<LabelInterval> gaps = [];
        LabelChange? openedBy = null;
        var seen = false;
        Sweep(key, value, (change, count) =>
        {
            if (count > 0)
            {
                seen = true;
                if (openedBy is not null)
                {
                    gaps.Add(new LabelInterval(openedBy.Elapsed, change.Elapsed, openedBy.WallTime, change.WallTime));
                    openedBy = null;
                }
            }
            else if (seen && openedBy is null)
            {
                openedBy = change;
            }
        });
        if (openedBy is not null)
        {
            gaps.Add(new LabelInterval(openedBy.Elapsed, null, openedBy.WallTime, null));
        }

        return gaps;
    }

    /// <summary>"namespace/pod" of every pod carrying the label now, by the timeline.</summary>
    public IReadOnlyList<string> CarriersNow(string key, string value)
    {
        HashSet<string> carriers = [];
        lock (_gate)
        {
            foreach (var c in _changes.Where(c => c.Key == key))
            {
                if (c.NewValue == value)
                {
                    carriers.Add($"{c.Namespace}/{c.Pod}");
                }
                else
                {
                    carriers.Remove($"{c.Namespace}/{c.Pod}");
                }
            }
        }

        return [.. carriers.Order(StringComparer.Ordinal)];
    }

    /// <summary>Completes with the first change (already recorded or future) that matches, or throws <see cref="TimeoutException"/>.</summary>
    public async Task<LabelChange> WaitForAsync(Func<LabelChange, bool> match, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var tcs = new TaskCompletionSource<LabelChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var existing = _changes.FirstOrDefault(match);
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((match, tcs));
        }

        try
        {
            return await tcs.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _waiters.RemoveAll(w => w.Done == tcs);
            }
        }
    }

    public JsonArray ToJson()
    {
        lock (_gate)
        {
            return [.. _changes.Select(c => (JsonNode)c.ToJson())];
        }
    }

    /// <summary>Walks the changes of one key in order, reporting after each relevant one how many pods carry the value.</summary>
    private void Sweep(string key, string value, Action<LabelChange, int> after)
    {
        HashSet<string> carriers = [];
        foreach (var c in Changes.Where(c => c.Key == key))
        {
            var pod = $"{c.Namespace}/{c.Pod}";
            var changed = c.NewValue == value ? carriers.Add(pod) : carriers.Remove(pod);
            if (changed)
            {
                after(c, carriers.Count);
            }
        }
    }
}
