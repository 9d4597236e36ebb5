using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Roles;

/// <summary>Whether this master must stop acknowledging writes, and why.</summary>
public sealed record FenceDecision(bool Fenced, string Reason);

/// <summary>
/// Fencing an isolated master (DESIGN.md; Patroni's failsafe rule). A master whose sidecar has had no Sentinel
/// majority for longer than the grace keeps acknowledging writes only while it can confirm that every replica is
/// connected and in sync; otherwise the majority side may fail over, and everything acknowledged here after the cut is
/// discarded when the partition heals. The fence lifts when a Sentinel majority is back and names this pod master, or
/// when every replica is confirmed in sync again. Pure.
/// </summary>
public static class FencePlanner
{
    /// <summary>A replica counts as in sync when it is online and acknowledged the replication stream this recently (INFO's lag, seconds).</summary>
    public const int InSyncLagSeconds = 1;

    /// <param name="expectedReplicas">Replicas the set has besides this pod (REDIS_NODES minus one).</param>
    public static FenceDecision Decide(bool enabled, SentinelView view, LocalRedisState local, int expectedReplicas, bool fencedNow, Func<NodeAddress, bool> isMe)
    {
        if (!enabled) return new(false, "fencing is off (FENCE_ENABLED=false)");
        if (local.Role == LocalRole.Unknown) return new(fencedNow, "local Redis does not answer; the fence stays as it is");
        // A replica's setting matters once it is promoted: it must not become a fenced master.
        if (local.Role == LocalRole.Replica) return new(false, "not a master");
        var inSync = (local.Replicas ?? []).Count(r => r.Online && r.LagSeconds is >= 0 and <= InSyncLagSeconds);
        var allInSync = inSync >= expectedReplicas;
        if (!view.Lost)
        {
            if (!fencedNow) return new(false, "a Sentinel majority is reachable");
            return view.Master is { } m && isMe(m)
                ? new(false, $"a Sentinel majority is back and names this pod master (epoch {view.Epoch})")
                : allInSync ? new(false, $"every replica is in sync again ({inSync}/{expectedReplicas})")
                : new(true, $"a Sentinel majority is back but names {view.Master?.ToString() ?? "nobody"}; staying fenced until Sentinel converts this node or every replica is in sync ({inSync}/{expectedReplicas})");
        }
        return allInSync
            ? new(false, $"no Sentinel majority ({view.Reachable}/{view.Configured}) but every replica is connected and in sync ({inSync}/{expectedReplicas}): writes go on")
            : new(true, $"no Sentinel majority ({view.Reachable}/{view.Configured}) for longer than the grace and only {inSync}/{expectedReplicas} replicas confirmed in sync: isolated; writes would be lost when the majority side fails over");
    }
}
