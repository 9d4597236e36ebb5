using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Roles;

/// <summary>
/// One row of a Sentinel's tables (<c>SENTINEL MASTER</c> / <c>REPLICAS</c> / <c>SENTINELS</c>): the fields the programs,
/// the test harness and the benchmark read. <see cref="Address"/> and <see cref="MasterOf"/> are validated (null when invalid).
/// </summary>
/// <param name="Flags">e.g. <c>master</c>, <c>slave</c>, <c>s_down,slave</c>, <c>master,failover_in_progress</c>.</param>
/// <param name="MasterOf">A replica's master (<c>master-host</c>/<c>master-port</c>).</param>
/// <param name="LinkOk">A replica's <c>master-link-status</c> is <c>ok</c>.</param>
/// <param name="ReplicaPriority">A replica's <c>slave-priority</c>, as Sentinel last read it from the replica.</param>
public sealed record SentinelEntry(NodeAddress? Address, IReadOnlyList<string> Flags, string RunId, long ConfigEpoch, NodeAddress? MasterOf, bool LinkOk, int? ReplicaPriority)
{
    public bool HasFlag(string flag) => Flags.Contains(flag, StringComparer.Ordinal);

    /// <summary>Exactly the one flag <paramref name="role"/> (<c>master</c> or <c>slave</c>): no down state, no failover.</summary>
    public bool Plain(string role) => Flags is [var only] && only == role;

    public string FlagText => string.Join(',', Flags);
}
