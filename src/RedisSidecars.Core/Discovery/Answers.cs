using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Discovery;

/// <summary>One Sentinel's answer to "who is the master of the set?". <see cref="Error"/> set = no answer.</summary>
public sealed record SentinelAnswer(NodeAddress Sentinel, NodeAddress? Master, bool FailoverInProgress, string? Error = null, long ConfigEpoch = 0)
{
    public bool Answered => Error is null && Master is not null;
    public static SentinelAnswer Failed(NodeAddress sentinel, string error) => new(sentinel, null, false, error);
}

public enum PeerRole { Master, Replica, Other }

/// <summary>One Redis peer's <c>ROLE</c> (and whether it holds keys). <see cref="Error"/> set = unreachable.</summary>
public sealed record PeerAnswer(
    NodeAddress Peer,
    PeerRole Role,
    int ConnectedReplicas = 0,
    long Offset = 0,
    NodeAddress? ReplicaOf = null,
    bool? HoldsData = null,
    string? Error = null)
{
    public bool Answered => Error is null;
    public static PeerAnswer Failed(NodeAddress peer, string error) => new(peer, PeerRole.Other, Error: error);
}

public enum DecisionSource { Sentinels, Peers, Default }

/// <summary>Who the master is, where that came from, and the detail for the decision log line.</summary>
public sealed record MasterDecision(NodeAddress Master, DecisionSource Source, string Detail, string? Warning = null)
{
    public string SourceName => Source switch
    {
        DecisionSource.Sentinels => "sentinels",
        DecisionSource.Peers => "peers",
        _ => "default",
    };
}

public enum SentinelVerdictKind
{
    /// <summary>A majority of the configured Sentinels name the same master and none reports a failover.</summary>
    Agreed,
    /// <summary>Answers differ or a failover is in progress: ask again.</summary>
    InFlux,
    /// <summary>Too few answers to trust: go to the peers.</summary>
    NoMajority,
}

public sealed record SentinelVerdict(SentinelVerdictKind Kind, NodeAddress? Master, int Agree, int Configured, int Answered)
{
    public string Detail => $"agree={Agree}/{Configured}";
}
