using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>DESIGN.md "The sidecar's rules", the table, row by row.</summary>
public sealed class RoleDeciderTests
{
    public enum View { MasterIsMe, MasterIsOther, NoView, LostMasterWasMe, LostMasterWasOther, LostNeverHadMaster }

    public enum Local { Master, ReplicaLinkUp, ReplicaLinkDown, ReplicaSyncing, ReplicaLoading, Unreachable, ReplicaOfThird }

    public enum Expect { MasterReady, ReplicaReady, ReplicaNotReady, NoDecision }

    static SentinelView ViewOf(View v) => v switch
    {
        View.MasterIsMe => new(Nodes.Me, 3, "poll", false, 3, 3),
        View.MasterIsOther => new(Nodes.Other, 3, "event", false, 3, 3),
        View.NoView => new(null, -1, "none", false, 1, 3),
        View.LostMasterWasMe => new(Nodes.Me, 3, "poll", true, 1, 3),
        View.LostMasterWasOther => new(Nodes.Other, 3, "poll", true, 1, 3),
        View.LostNeverHadMaster => new(null, -1, "none", true, 0, 3),
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    static LocalRedisState LocalOf(Local l) => l switch
    {
        Local.Master => new(LocalRole.Master, Offset: 100),
        Local.ReplicaLinkUp => new(LocalRole.Replica, Nodes.Other, LinkUp: true),
        Local.ReplicaLinkDown => new(LocalRole.Replica, Nodes.Other, LinkUp: false),
        Local.ReplicaSyncing => new(LocalRole.Replica, Nodes.Other, LinkUp: true, Syncing: true),
        Local.ReplicaLoading => new(LocalRole.Replica, Nodes.Other, LinkUp: true, Loading: true),
        Local.Unreachable => LocalRedisState.Unreachable("connection refused"),
        Local.ReplicaOfThird => new(LocalRole.Replica, Nodes.Third, LinkUp: true),
        _ => throw new ArgumentOutOfRangeException(nameof(l)),
    };

    static bool IsMe(NodeAddress n) => n.Equals(Nodes.Me);

    [Theory]
    // master is me
    [InlineData(View.MasterIsMe, Local.Master, Expect.MasterReady)]
    [InlineData(View.MasterIsMe, Local.ReplicaLinkUp, Expect.ReplicaNotReady)]        // promotion pending
    [InlineData(View.MasterIsMe, Local.Unreachable, Expect.ReplicaNotReady)]
    // master is someone else
    [InlineData(View.MasterIsOther, Local.ReplicaLinkUp, Expect.ReplicaReady)]
    [InlineData(View.MasterIsOther, Local.ReplicaLinkDown, Expect.ReplicaNotReady)]
    [InlineData(View.MasterIsOther, Local.ReplicaSyncing, Expect.ReplicaNotReady)]
    [InlineData(View.MasterIsOther, Local.ReplicaLoading, Expect.ReplicaNotReady)]
    [InlineData(View.MasterIsOther, Local.Unreachable, Expect.ReplicaNotReady)]
    [InlineData(View.MasterIsOther, Local.Master, Expect.ReplicaNotReady)]            // an old master back
    [InlineData(View.MasterIsOther, Local.ReplicaOfThird, Expect.ReplicaNotReady)]    // replicates a master Sentinel does not name
    // no majority for longer than the grace: never master
    [InlineData(View.LostMasterWasMe, Local.Master, Expect.ReplicaNotReady)]
    [InlineData(View.LostMasterWasMe, Local.ReplicaLinkUp, Expect.ReplicaReady)]
    [InlineData(View.LostMasterWasOther, Local.Master, Expect.ReplicaNotReady)]
    [InlineData(View.LostMasterWasOther, Local.ReplicaLinkUp, Expect.ReplicaReady)]
    [InlineData(View.LostMasterWasOther, Local.ReplicaLinkDown, Expect.ReplicaNotReady)]
    [InlineData(View.LostMasterWasOther, Local.ReplicaSyncing, Expect.ReplicaNotReady)]
    [InlineData(View.LostMasterWasOther, Local.Unreachable, Expect.ReplicaNotReady)]
    [InlineData(View.LostNeverHadMaster, Local.Master, Expect.ReplicaNotReady)]
    // no view yet: change nothing
    [InlineData(View.NoView, Local.Master, Expect.NoDecision)]
    [InlineData(View.NoView, Local.ReplicaLinkUp, Expect.NoDecision)]
    [InlineData(View.NoView, Local.Unreachable, Expect.NoDecision)]
    public void Decide_TableRow_GivesLabelAndReadiness(View view, Local local, Expect expect)
    {
        var d = RoleDecider.Decide(ViewOf(view), LocalOf(local), IsMe);

        var actual = d switch
        {
            null => Expect.NoDecision,
            { Label: RoleLabel.Master, Ready: true } => Expect.MasterReady,
            { Label: RoleLabel.Replica, Ready: true } => Expect.ReplicaReady,
            { Label: RoleLabel.Replica, Ready: false } => Expect.ReplicaNotReady,
            _ => throw new Xunit.Sdk.XunitException($"unexpected decision {d}"),
        };
        Assert.True(expect == actual, $"{view} + {local}: expected {expect}, got {actual} ({d?.Reason})");
        if (d is not null) Assert.False(string.IsNullOrWhiteSpace(d.Reason));
    }

    [Fact]
    public void Decide_LostView_NeverMasterWhateverTheLocalRedisSays()
    {
        foreach (var view in new[] { View.LostMasterWasMe, View.LostMasterWasOther, View.LostNeverHadMaster })
            foreach (var local in Enum.GetValues<Local>())
            {
                var d = RoleDecider.Decide(ViewOf(view), LocalOf(local), IsMe);
                Assert.NotNull(d);
                Assert.True(d.Label == RoleLabel.Replica, $"{view} + {local} gave {d}");
                if (local == Local.Master) Assert.False(d.Ready, $"{view} + {local} must not be ready: {d}");
            }
    }

    [Fact]
    public void Decide_OldMasterBack_ReasonNamesTheSentinelsMaster()
    {
        var d = RoleDecider.Decide(ViewOf(View.MasterIsOther), LocalOf(Local.Master), IsMe);

        Assert.NotNull(d);
        Assert.Contains(Nodes.Other.ToString(), d.Reason);
        Assert.Contains("old master", d.Reason);
    }

    [Fact]
    public void Decide_ReplicaOfAnotherMaster_ReasonNamesBothMasters()
    {
        var d = RoleDecider.Decide(ViewOf(View.MasterIsOther), LocalOf(Local.ReplicaOfThird), IsMe);

        Assert.NotNull(d);
        Assert.Contains(Nodes.Third.ToString(), d.Reason);
        Assert.Contains(Nodes.Other.ToString(), d.Reason);
    }

    [Fact]
    public void Decide_LostView_ReasonCountsReachableSentinels()
    {
        var d = RoleDecider.Decide(ViewOf(View.LostMasterWasMe), LocalOf(Local.Master), IsMe);

        Assert.NotNull(d);
        Assert.Contains("1/3", d.Reason);
    }

    [Fact]
    public void Decide_UnreachableLocalRedis_ReasonCarriesTheError()
    {
        var d = RoleDecider.Decide(ViewOf(View.MasterIsOther), LocalRedisState.Unreachable("connection refused"), IsMe);

        Assert.NotNull(d);
        Assert.Contains("unreachable", d.Reason);
        Assert.Contains("connection refused", d.Reason);
    }

    [Fact]
    public void Decide_MasterNamedByAnAliasOfThisPod_IsMaster()
    {
        // isMe decides what "me" is (announce address, pod IP, list entry): the decider must use it, not compare itself.
        var podIp = new NodeAddress("10.0.0.7", 6379);
        var view = new SentinelView(podIp, 1, "poll", false, 3, 3);

        var d = RoleDecider.Decide(view, LocalOf(Local.Master), n => n.Equals(podIp) || n.Equals(Nodes.Me));

        Assert.Equal(new DesiredState(RoleLabel.Master, true, d!.Reason), d);
    }
}
