using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Settings;

public enum NodeMode { Redis, Sentinel, Verify }

public sealed record TlsSettings(string CaFile, string CertFile, string KeyFile);

/// <summary>Validated settings shared by redis-init and redis-sidecar.</summary>
public sealed record CommonSettings
{
    public required NodeMode Mode { get; init; }
    /// <summary>This pod's name; null only in <see cref="NodeMode.Verify"/>.</summary>
    public required string? PodName { get; init; }
    public required int Ordinal { get; init; }
    public required string Namespace { get; init; }
    public required IReadOnlyList<NodeAddress> RedisNodes { get; init; }
    public required IReadOnlyList<NodeAddress> SentinelNodes { get; init; }
    /// <summary>The address peers use to reach this pod (host + this mode's port); null in verify mode.</summary>
    public required NodeAddress? Self { get; init; }
    /// <summary>Other addresses that also mean "this pod" (the pod IP with this mode's port).</summary>
    public required IReadOnlyList<NodeAddress> SelfAliases { get; init; }
    public required int RedisPort { get; init; }
    public required int SentinelPort { get; init; }
    public required string MasterSetName { get; init; }
    public required int SentinelQuorum { get; init; }
    public required int DownAfterMs { get; init; }
    public required int FailoverTimeoutMs { get; init; }
    public required int ParallelSyncs { get; init; }
    public required int MasterRebootDownAfterMs { get; init; }
    public required Secret? RedisPassword { get; init; }
    public required string? RedisUsername { get; init; }
    public required Secret? SentinelPassword { get; init; }
    public required string DataDir { get; init; }
    public required TimeSpan MasterWaitTimeout { get; init; }
    public required TimeSpan DiscoveryTimeout { get; init; }
    public required int? MinReplicasToWrite { get; init; }
    public required int? MinReplicasMaxLag { get; init; }
    public required TlsSettings? Tls { get; init; }

    /// <summary>Majority of the configured Sentinels: the number of agreeing answers needed to trust them.</summary>
    public int SentinelMajority => Discovery.MasterResolver.Majority(SentinelNodes.Count);

    public bool IsSelf(NodeAddress node) => (Self is { } s && s.Equals(node)) || SelfAliases.Contains(node);

    /// <summary>This pod's entry in its own node list, if it has one.</summary>
    public NodeAddress? OwnListedNode => Mode switch
    {
        NodeMode.Redis when Ordinal < RedisNodes.Count => RedisNodes[Ordinal],
        NodeMode.Sentinel when Ordinal < SentinelNodes.Count => SentinelNodes[Ordinal],
        _ => null,
    };

    /// <summary>True when <paramref name="node"/> is this pod (its announce address, pod IP, or its own list entry).</summary>
    public bool IsMe(NodeAddress node) => IsSelf(node) || (OwnListedNode is { } own && own.Equals(node));
}
