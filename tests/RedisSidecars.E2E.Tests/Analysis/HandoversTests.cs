using RedisSidecars.E2E.Analysis;
using RedisSidecars.E2E.Cluster;

namespace RedisSidecars.E2E.Tests.Analysis;

public class HandoversTests
{
    static readonly TimeSpan Forever = TimeSpan.FromHours(1);
    static PodObservation O(double s, string pod, string? role, bool terminating = false, bool gone = false) =>
        new(TimeSpan.FromSeconds(s), pod, role, terminating, gone);

    [Fact]
    public void Replay_LabelMovesToAnotherPod_IsOneChange()
    {
        var obs = new[]
        {
            O(0, "redis-0", "master"), O(0, "redis-1", "replica"), O(0, "redis-2", "replica"),
            O(1, "redis-0", null, terminating: true), // handover: the old master drops its label first
            O(1.5, "redis-1", "master"),
            O(2, "redis-0", null, terminating: true, gone: true),
            O(5, "redis-0", "replica"), // recreated
        };

        var h = Handovers.Replay(obs, "master", "redis-0", TimeSpan.Zero, Forever);

        Assert.Equal([(TimeSpan.FromSeconds(1.5), "redis-1")], h.Changes);
        Assert.Empty(h.TwoLabelled);
    }

    [Fact]
    public void Replay_TwoPodsLabelled_IsReported()
    {
        var obs = new[] { O(0, "redis-0", "master"), O(1, "redis-1", "master"), O(2, "redis-0", "replica") };

        var h = Handovers.Replay(obs, "master", "redis-0", TimeSpan.Zero, Forever);

        var two = Assert.Single(h.TwoLabelled);
        Assert.Equal(["redis-0", "redis-1"], two.Pods);
        Assert.Equal([(TimeSpan.FromSeconds(2), "redis-1")], h.Changes); // the change counts once the label is single again
    }

    [Fact]
    public void Replay_BackAndForth_CountsEveryChange()
    {
        var obs = new[] { O(0, "a", "master"), O(1, "a", "replica"), O(2, "b", "master"), O(3, "b", "replica"), O(4, "a", "master") };
        Assert.Equal(2, Handovers.Replay(obs, "master", "a", TimeSpan.Zero, Forever).Changes.Count);
    }

    [Fact]
    public void Replay_SameMasterRelabelled_IsNoChange()
    {
        var obs = new[] { O(0, "a", "master"), O(1, "a", null), O(2, "a", "master") };
        Assert.Empty(Handovers.Replay(obs, "master", "a", TimeSpan.Zero, Forever).Changes);
    }

    [Fact]
    public void Replay_BeforeTheWindow_BuildsStateButIsNotCounted()
    {
        var obs = new[] { O(0, "a", "master"), O(1, "a", null), O(2, "b", "master"), O(10, "b", null), O(11, "c", "master") };
        var h = Handovers.Replay(obs, "master", "a", TimeSpan.FromSeconds(5), Forever);
        Assert.Equal([(TimeSpan.FromSeconds(11), "c")], h.Changes);
    }

    [Fact]
    public void Replay_OtherLabelValues_AreNotMaster()
    {
        // valkey-master=true / false
        var obs = new[] { O(0, "a", "true"), O(1, "b", "false"), O(2, "a", "false"), O(3, "b", "true") };
        Assert.Equal([(TimeSpan.FromSeconds(3), "b")], Handovers.Replay(obs, "true", "a", TimeSpan.Zero, Forever).Changes);
    }

    [Fact]
    public void Promotions_EverySentinelsMessageForOneSwitch_IsOnePromotion()
    {
        var s01 = new SwitchMaster("mymaster", "redis-0.h", 6379, "redis-1.h", 6379);
        var s12 = new SwitchMaster("mymaster", "redis-1.h", 6379, "redis-2.h", 6379);
        var messages = new[]
        {
            (TimeSpan.FromSeconds(1.08), s01), (TimeSpan.FromSeconds(1.0), s01), (TimeSpan.FromSeconds(3.5), s01),
            (TimeSpan.FromSeconds(9), s12), (TimeSpan.FromSeconds(9.1), s12),
        };

        var p = Handovers.Promotions(messages);

        Assert.Equal(2, p.Count);
        Assert.Equal((TimeSpan.FromSeconds(1.0), "redis-1.h", 3), (p[0].At, p[0].NewHost, p[0].Messages));
        Assert.Equal((TimeSpan.FromSeconds(9), "redis-2.h", 2), (p[1].At, p[1].NewHost, p[1].Messages));
    }

    [Fact]
    public void Promotions_SwitchBack_IsASecondPromotion()
    {
        var ab = new SwitchMaster("m", "a", 1, "b", 1);
        var ba = new SwitchMaster("m", "b", 1, "a", 1);
        Assert.Equal(3, Handovers.Promotions([(TimeSpan.FromSeconds(1), ab), (TimeSpan.FromSeconds(2), ba), (TimeSpan.FromSeconds(3), ab)]).Count);
    }

    [Fact]
    public void TerminationOrder_RollingRestart_HighestOrdinalFirst()
    {
        var obs = new[]
        {
            O(0, "redis-2", "replica"), O(1, "redis-2", "replica", terminating: true), O(1.1, "redis-2", "replica", terminating: true),
            O(2, "redis-2", null, terminating: true, gone: true), O(3, "redis-2", null),
            O(4, "redis-1", "master", terminating: true), O(6, "redis-1", null, gone: true, terminating: true),
            O(8, "redis-0", "replica", terminating: true),
        };

        Assert.Equal(["redis-2", "redis-1", "redis-0"], Handovers.TerminationOrder(obs, TimeSpan.Zero, Forever));
        Assert.Equal(["redis-1", "redis-0"], Handovers.TerminationOrder(obs, TimeSpan.FromSeconds(3.5), Forever));
    }
}
