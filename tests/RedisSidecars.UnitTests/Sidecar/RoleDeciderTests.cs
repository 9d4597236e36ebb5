using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>DESIGN.md's decision table, row by row.</summary>
public sealed class RoleDeciderTests
{
    public sealed record Row(string Name, SentinelView View, LocalRedisState Local, RoleLabel Label, bool Ready, bool Urgent)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Row> Table => new()
    {
        // Sentinels name this pod.
        new("named me, local master", View(Me), LonelyMaster(), RoleLabel.Master, true, false),
        new("named me, local master with replicas", View(Me), MasterWithReplica(), RoleLabel.Master, true, false),
        new("named me, local master, the leader promoting another: out at once", View(Me, promoting: Other), MasterWithReplica(), RoleLabel.Replica, false, true),
        new("named me, local unreachable, the leader promoting another: keep the label", View(Me, promoting: Other), Unreachable, RoleLabel.Keep, false, false),
        new("named me, local unreachable: keep the label", View(Me), Unreachable, RoleLabel.Keep, false, false),
        new("named me, local healthy replica", View(Me), ReplicaOf(Other), RoleLabel.Replica, false, true),
        new("named me, local replica with link down", View(Me), ReplicaOf(Other, linkUp: false), RoleLabel.Replica, false, true),
        // Sentinels name another pod.
        new("named other, healthy replica of it", View(Other), ReplicaOf(Other), RoleLabel.Replica, true, false),
        new("named other, replica with unknown master host", View(Other), new LocalRedisState(LocalRole.Replica, null, LinkUp: true), RoleLabel.Replica, true, false),
        new("named other, replica of a third pod", View(Other), ReplicaOf(Third), RoleLabel.Replica, false, false),
        new("named other, replica link down", View(Other), ReplicaOf(Other, linkUp: false), RoleLabel.Replica, false, false),
        new("named other, replica syncing", View(Other), ReplicaOf(Other, syncing: true), RoleLabel.Replica, false, false),
        new("named other, replica loading", View(Other), ReplicaOf(Other, loading: true), RoleLabel.Replica, false, false),
        new("named other, local unreachable", View(Other), Unreachable, RoleLabel.Replica, false, false),
        new("named other, local master (old master back)", View(Other), LonelyMaster(), RoleLabel.Replica, false, false),
        new("named other, local master, failover in progress (being promoted)", View(Other, failover: true), LonelyMaster(), RoleLabel.Replica, false, false),
        // No Sentinel majority for longer than the grace: whatever the last view said.
        new("lost, local master: out at once", View(Me, lost: true), MasterWithReplica(), RoleLabel.Replica, false, true),
        new("lost, healthy replica keeps its link-based readiness", View(Other, lost: true), ReplicaOf(Other), RoleLabel.Replica, true, false),
        new("lost, replica link down", View(Other, lost: true), ReplicaOf(Other, linkUp: false), RoleLabel.Replica, false, false),
        new("lost, local unreachable", View(Me, lost: true), Unreachable, RoleLabel.Replica, false, false),
        new("lost without any view yet, local master", View(null, lost: true), LonelyMaster(), RoleLabel.Replica, false, true),
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decide_TableRow_LabelReadinessAndUrgency(Row row)
    {
        var d = RoleDecider.Decide(row.View, row.Local, IsMe);

        Assert.NotNull(d);
        Assert.Equal((row.Label, row.Ready, row.Urgent), (d.Label, d.Ready, d.Urgent));
        Assert.False(string.IsNullOrWhiteSpace(d.Reason));
        Assert.DoesNotContain('\n', d.Reason);
    }

    [Theory]
    [InlineData(LocalRole.Master)]
    [InlineData(LocalRole.Replica)]
    [InlineData(LocalRole.Unknown)]
    public void Decide_NoViewYet_NullChangesNothing(LocalRole role)
    {
        Assert.Null(RoleDecider.Decide(View(null), new LocalRedisState(role), IsMe));
    }

    [Fact]
    public void Decide_OldMasterBack_ReasonSaysSentinelWillConvertIt()
    {
        var d = RoleDecider.Decide(View(Other), LonelyMaster(), IsMe)!;

        Assert.Contains(Other.ToString(), d.Reason);
        Assert.Contains("old master", d.Reason);
    }

    [Fact]
    public void Decide_BeingPromoted_ReasonSaysAFailoverIsInProgress()
    {
        var d = RoleDecider.Decide(View(Other, failover: true), LonelyMaster(), IsMe)!;

        Assert.Contains("failover is in progress", d.Reason);
    }

    [Fact]
    public void Decide_Lost_ReasonNamesReachableOfConfigured()
    {
        var view = new SentinelView(Me, 1, "poll", Lost: true, Reachable: 1, Configured: 3);

        var d = RoleDecider.Decide(view, LonelyMaster(), IsMe)!;

        Assert.Contains("1/3", d.Reason);
    }

    [Fact]
    public void Decide_IsMeByAnyAlias_UsesTheGivenPredicate()
    {
        var alias = new NodeAddress("redis-0.redis-headless.default.svc.cluster.local", 6379);

        var d = RoleDecider.Decide(View(alias), LonelyMaster(), n => n.Equals(alias))!;

        Assert.Equal(RoleLabel.Master, d.Label);
    }
}
