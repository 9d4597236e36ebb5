using RedisSidecars.Core.Discovery;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class StartupPlannerTests
{
    static readonly MasterDecision BySentinels = new(RedisNode(0), DecisionSource.Sentinels, "agree=3/3");
    static readonly MasterDecision ByDefault = new(RedisNode(0), DecisionSource.Default, "reason=nothing-reachable");

    static PeerAnswer Replica(int ordinal, bool? holdsData) => new(RedisNode(ordinal), PeerRole.Replica, ReplicaOf: RedisNode(0), HoldsData: holdsData);

    [Fact]
    public void Plan_AnotherPodIsMaster_Replicate()
    {
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: false, localHasData: false, [], 2);

        Assert.Equal(StartupAction.Replicate, plan.Action);
    }

    [Fact]
    public void Plan_MeByDefault_BecomeMaster()
    {
        var plan = StartupPlanner.Plan(ByDefault, decidedIsMe: true, localHasData: false, [], 2);

        Assert.Equal(StartupAction.BecomeMaster, plan.Action);
    }

    [Fact]
    public void Plan_MeWithData_BecomeMaster()
    {
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: true, localHasData: true, [Replica(1, true), Replica(2, true)], 2);

        Assert.Equal(StartupAction.BecomeMaster, plan.Action);
    }

    [Fact]
    public void Plan_MeEmptyNamedBySentinels_WaitForFailover()
    {
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: true, localHasData: false, [], 2);

        Assert.Equal(StartupAction.WaitForFailover, plan.Action);
        Assert.Contains("sentinels", plan.Reason);
        Assert.Contains("RDB/AOF", plan.Reason);
    }

    [Fact]
    public void Plan_MeEmptyAndEveryPeerAnsweredEmpty_BecomeMaster()
    {
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: true, localHasData: false, [Replica(1, false), Replica(2, false)], 2);

        Assert.Equal(StartupAction.BecomeMaster, plan.Action);
    }

    [Fact]
    public void Plan_MeEmptyAndOnePeerHoldsData_WaitForFailover()
    {
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: true, localHasData: false, [Replica(1, false), Replica(2, true)], 2);

        Assert.Equal(StartupAction.WaitForFailover, plan.Action);
    }

    [Fact]
    public void Plan_MeEmptyAndOnePeerUnreachable_WaitForFailover()
    {
        // The unreachable peer may hold the only copy of the data.
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: true, localHasData: false,
            [Replica(1, false), PeerAnswer.Failed(RedisNode(2), "timeout")], 2);

        Assert.Equal(StartupAction.WaitForFailover, plan.Action);
    }

    [Fact]
    public void Plan_MeEmptyAndPeerDataUnknown_WaitForFailover()
    {
        var plan = StartupPlanner.Plan(BySentinels, decidedIsMe: true, localHasData: false, [Replica(1, false), Replica(2, null)], 2);

        Assert.Equal(StartupAction.WaitForFailover, plan.Action);
    }
}
