using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Roles;

public enum LocalRole { Unknown, Master, Replica }

/// <summary>The local Redis as <c>ROLE</c> and <c>INFO replication/persistence</c> describe it.</summary>
public sealed record LocalRedisState(
    LocalRole Role,
    NodeAddress? MasterOf = null,
    bool LinkUp = false,
    bool Syncing = false,
    bool Loading = false,
    long Offset = 0,
    string? Error = null)
{
    public static LocalRedisState Unreachable(string error) => new(LocalRole.Unknown, Error: error);
}

public enum RoleLabel { Master, Replica }

/// <summary>The label and readiness this pod should have, and why.</summary>
public sealed record DesiredState(RoleLabel Label, bool Ready, string Reason);

/// <summary>DESIGN.md's table, as a pure function.</summary>
public static class RoleDecider
{
    /// <returns>Null when there is no Sentinel view yet: change nothing (readiness starts false).</returns>
    public static DesiredState? Decide(SentinelView view, LocalRedisState local, Func<NodeAddress, bool> isMe)
    {
        if (view.Lost)
        {
            // Fail safe: an isolated master must not keep receiving writes through the Service.
            var replicaOk = IsHealthyReplica(local);
            return new(RoleLabel.Replica, replicaOk,
                $"no Sentinel majority reachable ({view.Reachable}/{view.Configured}) for longer than the grace" + (replicaOk ? "; replica link up" : ""));
        }
        if (view.Master is not { } master) return null;

        if (isMe(master))
        {
            return local.Role == LocalRole.Master
                ? new(RoleLabel.Master, true, $"sentinels name this pod master (epoch {view.Epoch}, {view.Source}) and local Redis is master")
                : new(RoleLabel.Replica, false, $"sentinels name this pod master but local Redis is {Describe(local)}");
        }

        if (local.Role == LocalRole.Master)
            return new(RoleLabel.Replica, false, $"local Redis is master but sentinels name {master}: an old master back; Sentinel will convert it");
        if (!IsHealthyReplica(local))
            return new(RoleLabel.Replica, false, $"master is {master}; local Redis is {Describe(local)}");
        if (local.MasterOf is { } of && !of.Equals(master))
            return new(RoleLabel.Replica, false, $"local Redis replicates {of} but sentinels name {master}");
        return new(RoleLabel.Replica, true, $"master is {master}; replica link up");
    }

    static bool IsHealthyReplica(LocalRedisState l) => l.Role == LocalRole.Replica && l.LinkUp && !l.Syncing && !l.Loading;

    static string Describe(LocalRedisState l) => l.Role switch
    {
        LocalRole.Unknown => "unreachable" + (l.Error is null ? "" : $" ({l.Error})"),
        LocalRole.Master => "master",
        _ => l.Loading ? "loading" : l.Syncing ? "syncing" : l.LinkUp ? "a replica" : "a replica with its link down",
    };
}
