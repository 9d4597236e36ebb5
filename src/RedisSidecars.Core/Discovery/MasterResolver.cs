using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Discovery;

/// <summary>The pure rules of DESIGN.md "Finding the master". I/O code gathers answers and calls these.</summary>
public static class MasterResolver
{
    public static int Majority(int configured) => configured / 2 + 1;

    /// <summary>
    /// Judges the Sentinels' answers. Only a majority of the <paramref name="configured"/> Sentinels
    /// (not of those that answered) may decide, so one stale or lying Sentinel never does.
    /// </summary>
    public static SentinelVerdict JudgeSentinels(IReadOnlyCollection<SentinelAnswer> answers, int configured)
    {
        var answered = answers.Where(a => a.Answered).ToArray();
        var groups = answered.GroupBy(a => a.Master!.Value)
            .Select(g => (Master: g.Key, Count: g.Count()))
            .OrderByDescending(g => g.Count)
            .ToArray();
        var best = groups.FirstOrDefault();
        var inFailover = answered.Any(a => a.FailoverInProgress);
        if (best.Count >= Majority(configured) && !inFailover)
            return new(SentinelVerdictKind.Agreed, best.Master, best.Count, configured, answered.Length);
        if (groups.Length > 1 || inFailover)
            return new(SentinelVerdictKind.InFlux, best.Count > 0 ? best.Master : null, best.Count, configured, answered.Length);
        return new(SentinelVerdictKind.NoMajority, best.Count > 0 ? best.Master : null, best.Count, configured, answered.Length);
    }

    /// <summary>
    /// Decides from the peers' <c>ROLE</c>: exactly one master wins; several (split brain) → most
    /// connected replicas, then highest offset, with a warning; none → the master the reachable
    /// replicas agree on (a majority of them), if any. Null when the peers cannot decide.
    /// </summary>
    public static MasterDecision? FromPeers(IReadOnlyCollection<PeerAnswer> answers, int configuredPeers)
    {
        var answered = answers.Where(a => a.Answered).ToArray();
        var masters = answered.Where(a => a.Role == PeerRole.Master).ToArray();
        var reach = $"answered={answered.Length}/{configuredPeers}";
        if (masters.Length == 1)
            return new(masters[0].Peer, DecisionSource.Peers, $"masters=1 {reach}");
        if (masters.Length > 1)
        {
            var chosen = masters.OrderByDescending(m => m.ConnectedReplicas).ThenByDescending(m => m.Offset).First();
            var all = string.Join(",", masters.Select(m => $"{m.Peer}(replicas={m.ConnectedReplicas},offset={m.Offset})"));
            return new(chosen.Peer, DecisionSource.Peers, $"masters={masters.Length} {reach}",
                $"split brain: {masters.Length} peers say they are master ({all}); chose {chosen.Peer} (most connected replicas, then highest offset)");
        }

        var replicas = answered.Where(a => a.Role == PeerRole.Replica && a.ReplicaOf is not null).ToArray();
        if (replicas.Length == 0) return null;
        var named = replicas.GroupBy(r => r.ReplicaOf!.Value).OrderByDescending(g => g.Count()).First();
        if (named.Count() * 2 <= replicas.Length) return null;
        return new(named.Key, DecisionSource.Peers, $"masters=0 replicas-agree={named.Count()}/{replicas.Length} {reach}");
    }

    /// <summary>Nothing reachable: ordinal 0 is the master.</summary>
    public static MasterDecision Default(IReadOnlyList<NodeAddress> redisNodes, string why) =>
        new(redisNodes[0], DecisionSource.Default, $"reason={why}");
}
