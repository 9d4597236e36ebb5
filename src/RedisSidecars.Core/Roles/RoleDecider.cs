using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Roles;

public enum LocalRole { Unknown, Master, Replica }

/// <summary>A replica as its master's <c>INFO replication</c> lists it.</summary>
public sealed record ReplicaLink(NodeAddress Address, string State, long Offset, long LagSeconds)
{
    public bool Online => State == "online";
}

/// <summary>The local Redis as one <c>INFO</c> describes it.</summary>
public sealed record LocalRedisState(
    LocalRole Role,
    NodeAddress? MasterOf = null,
    bool LinkUp = false,
    bool Syncing = false,
    bool Loading = false,
    long Offset = 0,
    string? Error = null,
    int? ReplicaPriority = null,
    IReadOnlyList<ReplicaLink>? Replicas = null)
{
    public static LocalRedisState Unreachable(string error) => new(LocalRole.Unknown, Error: error);

    public IReadOnlyList<ReplicaLink> OnlineReplicas => (Replicas ?? []).Where(r => r.Online).ToArray();

    public bool IsHealthyReplica => Role == LocalRole.Replica && LinkUp && !Syncing && !Loading;

    public string Describe() => Role switch
    {
        LocalRole.Unknown => "unreachable" + (Error is null ? "" : $" ({Error})"),
        LocalRole.Master => "master",
        _ => Loading ? "loading" : Syncing ? "syncing" : LinkUp ? "a replica" : "a replica with its link down",
    };
}

/// <summary>The role label a pod should carry: master, replica, or whatever it carries now.</summary>
public enum RoleLabel { Master, Replica, Keep }

/// <summary>
/// The label and readiness this pod should have, and why. <see cref="Urgent"/>: a not-ready state that must apply at
/// once (a master being demoted, handed over, fenced or isolated), not after the replica threshold.
/// </summary>
public sealed record DesiredState(RoleLabel Label, bool Ready, string Reason, bool Urgent = false);

/// <summary>DESIGN.md's table, as a pure function.</summary>
public static class RoleDecider
{
    /// <returns>Null when there is no Sentinel view yet: change nothing (readiness starts false).</returns>
    public static DesiredState? Decide(SentinelView view, LocalRedisState local, Func<NodeAddress, bool> isMe)
    {
        if (view.Lost)
        {
            // Fail safe: an isolated master must not keep receiving writes through the Service.
            var replicaOk = local.IsHealthyReplica;
            return new(RoleLabel.Replica, replicaOk,
                $"no Sentinel majority reachable ({view.Reachable}/{view.Configured}) for longer than the grace" + (replicaOk ? "; replica link up" : ""),
                Urgent: local.Role == LocalRole.Master);
        }
        if (view.Master is not { } master) return null;

        if (isMe(master))
        {
            return local.Role switch
            {
                // Sentinel has told a replica to take over: from now on what this Redis acknowledges is lost (it will
                // resynchronise from the new master), so it leaves the Service now rather than at +promoted-slave.
                LocalRole.Master when view.Promoting is { } next => new(RoleLabel.Replica, false,
                    $"Sentinel is promoting {next} in place of this pod (SLAVEOF NO ONE sent: writes here from now on would be lost)", Urgent: true),
                LocalRole.Master => new(RoleLabel.Master, true, $"sentinels name this pod master (epoch {view.Epoch}, {view.Source}) and local Redis is master"),
                // One unanswered INFO is not a demotion: if the Redis is really gone, Sentinel fails over and the view moves.
                LocalRole.Unknown => new(RoleLabel.Keep, false, $"sentinels name this pod master but local Redis is {local.Describe()}"),
                _ => new(RoleLabel.Replica, false, $"sentinels name this pod master but local Redis is {local.Describe()}", Urgent: true),
            };
        }

        if (local.Role == LocalRole.Master)
            return new(RoleLabel.Replica, false,
                $"local Redis is master but sentinels name {master}" + (view.FailoverInProgress ? " (a failover is in progress: Sentinel may be promoting this pod)" : ": an old master back; Sentinel will convert it"));
        if (!local.IsHealthyReplica)
            return new(RoleLabel.Replica, false, $"master is {master}; local Redis is {local.Describe()}");
        if (local.MasterOf is { } of && !of.Equals(master))
            return new(RoleLabel.Replica, false, $"local Redis replicates {of} but sentinels name {master}");
        return new(RoleLabel.Replica, true, $"master is {master}; replica link up");
    }
}

/// <summary>
/// Readiness as /readyz reports it, with a threshold as the kubelet prober has: a pod that is not labelled master
/// becomes not ready only after its not-ready state lasted <c>REPLICA_NOT_READY_AFTER_MS</c>, so a replica being
/// reconfigured for a moment, or a replica Sentinel is promoting (its Redis is master a moment before Sentinel says so),
/// keeps its readiness. Demoting a labelled master, and every <see cref="DesiredState.Urgent"/> state, apply at once.
/// Pure: the caller keeps the returned state and passes it in next time.
/// </summary>
public readonly record struct ReadinessState(bool Ready, long NotReadySince)
{
    public static readonly ReadinessState Initial = new(false, 0);

    /// <param name="labelledMaster">The pod carries the master label now.</param>
    /// <param name="now">A <see cref="TimeProvider.GetTimestamp"/> value.</param>
    public ReadinessState Next(DesiredState? desired, bool labelledMaster, long now, TimeSpan threshold, TimeProvider time)
    {
        if (desired is { Ready: true }) return new(true, 0);
        if (!Ready) return new(false, 0);
        var demotion = labelledMaster && desired?.Label is not (RoleLabel.Master or RoleLabel.Keep);
        if (desired is null || desired.Urgent || demotion) return new(false, 0);
        var since = NotReadySince == 0 ? now : NotReadySince;
        return time.GetElapsedTime(since, now) >= threshold ? new(false, 0) : new(true, since);
    }
}
