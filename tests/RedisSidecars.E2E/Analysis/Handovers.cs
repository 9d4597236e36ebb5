namespace RedisSidecars.E2E.Analysis;

/// <summary>A pod as a watch event showed it: its role label value (null: none) and whether it was being deleted.</summary>
public sealed record PodObservation(TimeSpan At, string Pod, string? Role, bool Terminating, bool Gone);

/// <summary>A failover as the Sentinels announced it (+switch-master), the earliest of the Sentinels' messages.</summary>
public sealed record Promotion(TimeSpan At, string OldHost, string NewHost, int Messages);

/// <summary>Who carried the master label when, from the pod watch: master changes and moments with two masters labelled.</summary>
public sealed record MasterHistory(IReadOnlyList<(TimeSpan At, string Master)> Changes, IReadOnlyList<(TimeSpan At, IReadOnlyList<string> Pods)> TwoLabelled);

public static class Handovers
{
    /// <summary>
    /// Replays pod observations (in the order the watch delivered them) within [from, to]. A master change is the label
    /// arriving on a pod other than the last master; <paramref name="initialMaster"/> is the master before the window.
    /// </summary>
    public static MasterHistory Replay(IReadOnlyList<PodObservation> observations, string masterValue, string? initialMaster, TimeSpan from, TimeSpan to)
    {
        var labelled = new SortedSet<string>(StringComparer.Ordinal);
        var changes = new List<(TimeSpan, string)>();
        var two = new List<(TimeSpan, IReadOnlyList<string>)>();
        var last = initialMaster;
        foreach (var o in observations)
        {
            if (o.Gone || o.Role != masterValue) labelled.Remove(o.Pod);
            else labelled.Add(o.Pod);
            if (o.At < from || o.At > to) continue;
            if (labelled.Count > 1) two.Add((o.At, labelled.ToArray()));
            if (labelled.Count == 1 && labelled.Min != last)
            {
                changes.Add((o.At, labelled.Min!));
                last = labelled.Min;
            }
        }
        return new MasterHistory(changes, two);
    }

    /// <summary>One promotion per failover: every Sentinel publishes +switch-master, so consecutive messages for the same
    /// old → new switch are one failover, dated by the earliest.</summary>
    public static IReadOnlyList<Promotion> Promotions(IEnumerable<(TimeSpan At, Cluster.SwitchMaster Switch)> messages)
    {
        var result = new List<Promotion>();
        foreach (var (at, s) in messages.OrderBy(m => m.At))
        {
            if (result.Count > 0 && result[^1].OldHost == s.OldHost && result[^1].NewHost == s.NewHost)
            {
                result[^1] = result[^1] with { Messages = result[^1].Messages + 1 };
                continue;
            }
            result.Add(new Promotion(at, s.OldHost, s.NewHost, 1));
        }
        return result;
    }

    /// <summary>The order in which pods started terminating within the window (a rolling restart's order).</summary>
    public static IReadOnlyList<string> TerminationOrder(IReadOnlyList<PodObservation> observations, TimeSpan from, TimeSpan to)
    {
        var order = new List<string>();
        var terminating = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in observations)
        {
            if (o.At < from || o.At > to) continue;
            if (o.Terminating && terminating.Add(o.Pod)) order.Add(o.Pod);
            if (!o.Terminating && !o.Gone) terminating.Remove(o.Pod); // recreated: may terminate again later
        }
        return order;
    }
}
