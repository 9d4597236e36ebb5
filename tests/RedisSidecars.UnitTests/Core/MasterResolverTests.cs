using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class MasterResolverTests
{
    static readonly NodeAddress A = RedisNode(0), B = RedisNode(1), C = RedisNode(2);

    static SentinelAnswer Says(int sentinel, NodeAddress master, bool failover = false) => new(SentinelNode(sentinel), master, failover);
    static SentinelAnswer Down(int sentinel) => SentinelAnswer.Failed(SentinelNode(sentinel), "connection refused");

    // ---- JudgeSentinels ----

    [Fact]
    public void JudgeSentinels_AllThreeAgree_AgreedWithThreeOfThree()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A), Says(1, A), Says(2, A)], configured: 3);

        Assert.Equal(SentinelVerdictKind.Agreed, v.Kind);
        Assert.Equal(A, v.Master);
        Assert.Equal(3, v.Agree);
        Assert.Equal("agree=3/3", v.Detail);
    }

    [Fact]
    public void JudgeSentinels_OneStaleOrLyingMinority_MajorityWins()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A), Says(1, B), Says(2, A)], configured: 3);

        Assert.Equal(SentinelVerdictKind.Agreed, v.Kind);
        Assert.Equal(A, v.Master);
        Assert.Equal("agree=2/3", v.Detail);
    }

    [Fact]
    public void JudgeSentinels_OnlyOneOfThreeAnswered_NoMajorityEvenThoughNobodyDisagrees()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A), Down(1), Down(2)], configured: 3);

        Assert.Equal(SentinelVerdictKind.NoMajority, v.Kind);
        Assert.Equal(1, v.Agree);
        Assert.Equal(1, v.Answered);
    }

    [Fact]
    public void JudgeSentinels_SentinelSkippedItselfAndOneOfTwoAnswered_StillNeedsMajorityOfThreeConfigured()
    {
        // A Sentinel's init asks only the two others; one is down. 1 agreeing answer is not 2 of 3.
        var v = MasterResolver.JudgeSentinels([Says(1, A), Down(2)], configured: 3);

        Assert.Equal(SentinelVerdictKind.NoMajority, v.Kind);
        Assert.Equal(3, v.Configured);
        Assert.Equal("agree=1/3", v.Detail);
    }

    [Fact]
    public void JudgeSentinels_SentinelSkippedItselfAndBothOthersAgree_Agreed()
    {
        var v = MasterResolver.JudgeSentinels([Says(1, A), Says(2, A)], configured: 3);

        Assert.Equal(SentinelVerdictKind.Agreed, v.Kind);
        Assert.Equal("agree=2/3", v.Detail);
    }

    [Fact]
    public void JudgeSentinels_SplitOneOneOne_InFlux()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A), Says(1, B), Says(2, C)], configured: 3);

        Assert.Equal(SentinelVerdictKind.InFlux, v.Kind);
        Assert.Equal(1, v.Agree);
    }

    [Fact]
    public void JudgeSentinels_TwoAnsweredAndDisagree_InFlux()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A), Says(1, B), Down(2)], configured: 3);

        Assert.Equal(SentinelVerdictKind.InFlux, v.Kind);
    }

    [Fact]
    public void JudgeSentinels_MajorityAgreesButReportsFailoverInProgress_InFlux()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A, failover: true), Says(1, A), Says(2, A)], configured: 3);

        Assert.Equal(SentinelVerdictKind.InFlux, v.Kind);
        Assert.Equal(A, v.Master);
    }

    [Fact]
    public void JudgeSentinels_ErrorsBesideAMajority_IgnoredAndAgreed()
    {
        var v = MasterResolver.JudgeSentinels([Says(0, A), Down(1), Says(2, A)], configured: 3);

        Assert.Equal(SentinelVerdictKind.Agreed, v.Kind);
        Assert.Equal(A, v.Master);
        Assert.Equal(2, v.Answered);
    }

    [Fact]
    public void JudgeSentinels_NothingAnswered_NoMajorityWithoutMaster()
    {
        var v = MasterResolver.JudgeSentinels([Down(0), Down(1), Down(2)], configured: 3);

        Assert.Equal(SentinelVerdictKind.NoMajority, v.Kind);
        Assert.Null(v.Master);
        Assert.Equal(0, v.Answered);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(4, 3)]
    [InlineData(5, 3)]
    public void Majority_ConfiguredCount_MoreThanHalf(int configured, int expected) =>
        Assert.Equal(expected, MasterResolver.Majority(configured));

    // ---- FromPeers ----

    static PeerAnswer Master(NodeAddress peer, int replicas = 0, long offset = 0) => new(peer, PeerRole.Master, replicas, offset);
    static PeerAnswer ReplicaOf(NodeAddress peer, NodeAddress master) => new(peer, PeerRole.Replica, ReplicaOf: master);
    static PeerAnswer Unreachable(NodeAddress peer) => PeerAnswer.Failed(peer, "connection refused");

    [Fact]
    public void FromPeers_ExactlyOneMaster_ThatOneWithoutWarning()
    {
        var d = MasterResolver.FromPeers([ReplicaOf(A, B), Master(B, 2), ReplicaOf(C, B)], configuredPeers: 3);

        Assert.NotNull(d);
        Assert.Equal(B, d.Master);
        Assert.Equal(DecisionSource.Peers, d.Source);
        Assert.Equal("peers", d.SourceName);
        Assert.Null(d.Warning);
    }

    [Fact]
    public void FromPeers_SplitBrain_MostConnectedReplicasWinsWithWarningNamingBoth()
    {
        var d = MasterResolver.FromPeers([Master(A, replicas: 0, offset: 900), Master(B, replicas: 1, offset: 100), ReplicaOf(C, B)], 3);

        Assert.NotNull(d);
        Assert.Equal(B, d.Master);
        Assert.NotNull(d.Warning);
        Assert.Contains("split brain", d.Warning);
        Assert.Contains(A.ToString(), d.Warning);
        Assert.Contains(B.ToString(), d.Warning);
    }

    [Fact]
    public void FromPeers_SplitBrainTiedReplicas_HighestOffsetWins()
    {
        var d = MasterResolver.FromPeers([Master(A, replicas: 1, offset: 500), Master(B, replicas: 1, offset: 700), Unreachable(C)], 3);

        Assert.NotNull(d);
        Assert.Equal(B, d.Master);
        Assert.NotNull(d.Warning);
        Assert.Contains(A.ToString(), d.Warning);
    }

    [Fact]
    public void FromPeers_NoMasterButReplicasAgree_TheirMaster()
    {
        // The master (A) itself is down; both replicas still point at it.
        var d = MasterResolver.FromPeers([Unreachable(A), ReplicaOf(B, A), ReplicaOf(C, A)], 3);

        Assert.NotNull(d);
        Assert.Equal(A, d.Master);
        Assert.Contains("replicas-agree=2/2", d.Detail);
    }

    [Fact]
    public void FromPeers_ReplicasDisagree_Null()
    {
        var d = MasterResolver.FromPeers([Unreachable(A), ReplicaOf(B, A), ReplicaOf(C, B)], 3);

        Assert.Null(d);
    }

    [Fact]
    public void FromPeers_NothingAnswered_Null()
    {
        Assert.Null(MasterResolver.FromPeers([Unreachable(A), Unreachable(B), Unreachable(C)], 3));
        Assert.Null(MasterResolver.FromPeers([], 0));
    }

    [Fact]
    public void FromPeers_UnreachableMasterRoleIgnored_OnlyAnsweredPeersCount()
    {
        // A failed answer's role is meaningless even if it were "Master".
        var failedButMaster = new PeerAnswer(A, PeerRole.Master, 5, 9999, Error: "timeout");
        var d = MasterResolver.FromPeers([failedButMaster, Master(B, 1)], 3);

        Assert.NotNull(d);
        Assert.Equal(B, d.Master);
        Assert.Null(d.Warning);
    }

    // ---- Default ----

    [Fact]
    public void Default_NothingReachable_PodZeroWithReason()
    {
        var d = MasterResolver.Default([B, A, C], "nothing-reachable");

        Assert.Equal(B, d.Master);
        Assert.Equal(DecisionSource.Default, d.Source);
        Assert.Equal("default", d.SourceName);
        Assert.Equal("reason=nothing-reachable", d.Detail);
    }
}
