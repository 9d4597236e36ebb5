using RedisSidecars.Core.Roles;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

public class FencePlannerTests
{
    static LocalRedisState Master(params (string State, long Lag)[] replicas) =>
        new(LocalRole.Master, Offset: 100, Replicas: replicas.Select((r, i) => new ReplicaLink(i == 0 ? Other : Third, r.State, 100, r.Lag)).ToArray());

    static readonly SentinelView Lost = View(null, lost: true);

    [Fact]
    public void Decide_IsolatedMasterWithReplicasGone_Fenced()
    {
        var d = FencePlanner.Decide(true, Lost, Master(), expectedReplicas: 2, fencedNow: false, IsMe);

        Assert.True(d.Fenced);
        Assert.Contains("0/2", d.Reason);
    }

    [Theory]
    [InlineData("online", 5, false)]   // connected, but its last acknowledgement is 5 s old: not confirmed in sync
    [InlineData("wait_bgsave", 0, false)]
    [InlineData("online", 1, true)]
    [InlineData("online", 0, true)]
    public void Decide_NoMajority_FencedUnlessEveryReplicaIsInSync(string secondState, long secondLag, bool writesGoOn)
    {
        var d = FencePlanner.Decide(true, Lost, Master(("online", 0), (secondState, secondLag)), 2, fencedNow: false, IsMe);

        Assert.Equal(!writesGoOn, d.Fenced);
    }

    [Fact]
    public void Decide_OneReplicaOfTwoInSync_Fenced()
    {
        Assert.True(FencePlanner.Decide(true, Lost, Master(("online", 0)), 2, false, IsMe).Fenced);
    }

    [Fact]
    public void Decide_MajorityReachable_NeverFencesAnew()
    {
        Assert.False(FencePlanner.Decide(true, View(Me), Master(), 2, fencedNow: false, IsMe).Fenced);
        Assert.False(FencePlanner.Decide(true, View(null), Master(), 2, fencedNow: false, IsMe).Fenced); // within the grace: no verdict yet
    }

    [Fact]
    public void Decide_FencedAndMajorityBackNamingThisPod_Lifted()
    {
        var d = FencePlanner.Decide(true, View(Me, epoch: 4), Master(), 2, fencedNow: true, IsMe);

        Assert.False(d.Fenced);
        Assert.Contains("names this pod", d.Reason);
    }

    [Fact]
    public void Decide_FencedAndMajorityBackNamingAnother_StaysFencedUntilConvertedOrInSync()
    {
        Assert.True(FencePlanner.Decide(true, View(Other, epoch: 5), Master(), 2, fencedNow: true, IsMe).Fenced);
        Assert.True(FencePlanner.Decide(true, View(null), Master(), 2, fencedNow: true, IsMe).Fenced); // sidecar restarted mid-partition: kept
        Assert.False(FencePlanner.Decide(true, View(Other, epoch: 5), Master(("online", 0), ("online", 0)), 2, fencedNow: true, IsMe).Fenced);
    }

    [Fact]
    public void Decide_FencedAndStillNoMajorityButEveryReplicaInSyncAgain_Lifted()
    {
        Assert.False(FencePlanner.Decide(true, Lost, Master(("online", 0), ("online", 1)), 2, fencedNow: true, IsMe).Fenced);
    }

    [Fact]
    public void Decide_LocalRedisUnreachable_KeepsWhateverItIs()
    {
        Assert.True(FencePlanner.Decide(true, Lost, Unreachable, 2, fencedNow: true, IsMe).Fenced);
        Assert.False(FencePlanner.Decide(true, Lost, Unreachable, 2, fencedNow: false, IsMe).Fenced);
    }

    [Fact]
    public void Decide_Replica_NeverFenced()
    {
        // A fenced master that Sentinel turned into a replica gets its configured values back before any promotion.
        Assert.False(FencePlanner.Decide(true, Lost, ReplicaOf(Other), 2, fencedNow: true, IsMe).Fenced);
    }

    [Fact]
    public void Decide_Disabled_NeverFenced()
    {
        var d = FencePlanner.Decide(false, Lost, Master(), 2, fencedNow: true, IsMe);

        Assert.False(d.Fenced);
        Assert.Contains("FENCE_ENABLED=false", d.Reason);
    }
}
