using RedisSidecars.Core.Roles;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

public sealed class PodPlannerTests
{
    static readonly LabelValues Values = new("master", "replica");
    static readonly LabelValues NoReplicaLabel = new("master", null);
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    static readonly ObservedPeer[] NoMasterPeer = [new("redis-1", "replica", false), new("redis-2", "replica", false)];

    static PodStep Next(RoleLabel label, bool ready, ObservedPod? own, IReadOnlyList<ObservedPeer>? peers = null, TimeSpan? waiting = null, LabelValues? values = null) =>
        PodPlanner.Next(label, ready, own, peers ?? NoMasterPeer, values ?? Values, waiting, Bound);

    static ObservedPod Pod(string? label, bool? condition, bool gate = true) => new(label, gate, condition);

    static void AssertLabel(string? value, PodStep step)
    {
        var label = Assert.IsType<PodStep.PatchLabel>(step);
        Assert.Equal(value, label.Value);
        Assert.Empty(label.StillLabelled);
    }

    /// <summary>Applies the planner's steps to <paramref name="own"/> as the API and the watch would, until Done; returns the writes.</summary>
    static List<string> Apply(RoleLabel label, bool ready, ObservedPod own, LabelValues? values = null)
    {
        var writes = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            switch (Next(label, ready, own, values: values))
            {
                case PodStep.Done: return writes;
                case PodStep.PatchCondition c: writes.Add($"condition {c.Ready}"); own = own with { ConditionTrue = c.Ready }; break;
                case PodStep.PatchLabel l: writes.Add($"label {l.Value ?? "(none)"}"); own = own with { Label = l.Value }; break;
                case PodStep.Demote d: writes.Add($"condition False + label {d.Label ?? "(none)"}"); own = own with { ConditionTrue = false, Label = d.Label }; break;
                case var other: Assert.Fail($"unexpected {other}"); break;
            }
        }
        Assert.Fail("the planner never reached Done: " + string.Join(", ", writes));
        return writes;
    }

    [Fact]
    public void Next_OwnPodNotSeenYet_Done()
    {
        Assert.IsType<PodStep.Done>(Next(RoleLabel.Master, true, null));
    }

    [Fact]
    public void Next_DemotionOfALabelledMaster_ConditionAndLabelTogether()
    {
        var writes = Apply(RoleLabel.Replica, false, Pod("master", true));

        Assert.Equal(["condition False + label replica"], writes);
        Assert.Equal(new PodStep.Demote(null), PodPlanner.Next(RoleLabel.Replica, false, Pod("master", true), NoMasterPeer, new LabelValues("master", null), null, Bound));
    }

    [Fact]
    public void Next_ReplicaGoingUnready_ConditionBeforeAnyLabel()
    {
        var writes = Apply(RoleLabel.Replica, false, Pod(null, true));

        Assert.Equal(["condition False", "label replica"], writes);
    }

    [Fact]
    public void Next_PromotionWithNoPeerLabelled_LabelThenCondition()
    {
        var writes = Apply(RoleLabel.Master, true, Pod("replica", false));

        Assert.Equal(["label master", "condition True"], writes);
    }

    [Fact]
    public void Next_PromotionWhilePeerLabelled_WaitsWithTheFullBound()
    {
        var step = Next(RoleLabel.Master, true, Pod("replica", true), [new("redis-1", "master", false), new("redis-2", "replica", false)]);

        var wait = Assert.IsType<PodStep.WaitForPeers>(step);
        Assert.Equal(["redis-1"], wait.Labelled);
        Assert.Equal(Bound, wait.Remaining);
    }

    [Fact]
    public void Next_PromotionWaitingPartOfTheBound_WaitsTheRest()
    {
        var step = Next(RoleLabel.Master, true, Pod("replica", true), [new("redis-1", "master", false)], waiting: TimeSpan.FromSeconds(2));

        Assert.Equal(TimeSpan.FromSeconds(3), Assert.IsType<PodStep.WaitForPeers>(step).Remaining);
    }

    [Theory]
    [InlineData(5000)]
    [InlineData(9000)]
    public void Next_PromotionBoundExpired_LabelsNamingTheStillLabelledPeers(int waitedMs)
    {
        var peers = new ObservedPeer[] { new("redis-1", "master", false), new("redis-2", "master", true) };

        var step = Next(RoleLabel.Master, true, Pod("replica", true), peers, waiting: TimeSpan.FromMilliseconds(waitedMs));

        var label = Assert.IsType<PodStep.PatchLabel>(step);
        Assert.Equal("master", label.Value);
        Assert.Equal(["redis-1", "redis-2"], label.StillLabelled);
    }

    [Fact]
    public void Next_PromotionWithATerminatingPeerLabelled_StillWaitsForIt()
    {
        var step = Next(RoleLabel.Master, true, Pod("replica", true), [new("redis-1", "master", Terminating: true)]);

        Assert.IsType<PodStep.WaitForPeers>(step);
    }

    [Fact]
    public void Next_PromotionWaitingButConditionWrong_NoConditionWriteBeforeTheLabel()
    {
        // The label comes first; while it waits for the peer, nothing is written.
        var step = Next(RoleLabel.Master, true, Pod("replica", false), [new("redis-1", "master", false)]);

        Assert.IsType<PodStep.WaitForPeers>(step);
    }

    [Fact]
    public void Next_AlreadyLabelledMasterWithPeerLabelledToo_NoWaitOnlyCondition()
    {
        // The wait is only for becoming master; a pod that already is one is not held back by a hand-edited peer.
        var step = Next(RoleLabel.Master, true, Pod("master", false), [new("redis-1", "master", false)]);

        Assert.Equal(new PodStep.PatchCondition(true), step);
    }

    [Fact]
    public void Next_ReplicaValueNull_DemotionRemovesTheLabel()
    {
        var writes = Apply(RoleLabel.Replica, false, Pod("master", true), NoReplicaLabel);

        Assert.Equal(["condition False + label (none)"], writes);
    }

    [Fact]
    public void Next_ReplicaValueNullAndNoLabel_Done()
    {
        Assert.IsType<PodStep.Done>(Next(RoleLabel.Replica, true, Pod(null, true), values: NoReplicaLabel));
    }

    [Fact]
    public void Next_ReplicaValueNullHandEditedLabel_Removed()
    {
        AssertLabel(null, Next(RoleLabel.Replica, true, Pod("replica", true), values: NoReplicaLabel));
    }

    [Theory]
    [InlineData("master")] // someone labelled a replica master by hand
    [InlineData("bogus")]
    [InlineData(null)]     // or removed its label
    public void Next_HandEditedLabelOnAReadyReplica_Repaired(string? edited)
    {
        var step = Next(RoleLabel.Replica, true, Pod(edited, true));

        AssertLabel("replica", step);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(null, true)]  // condition not there yet
    [InlineData(null, false)]
    public void Next_HandEditedOrMissingCondition_Repaired(bool? condition, bool ready)
    {
        Assert.Equal(new PodStep.PatchCondition(ready), Next(RoleLabel.Replica, ready, Pod("replica", condition)));
    }

    [Fact]
    public void Next_NoGateDeclared_NeverWritesTheCondition()
    {
        Assert.Equal(["label replica"], Apply(RoleLabel.Replica, false, Pod("master", null, gate: false)));
        Assert.Equal(["label master"], Apply(RoleLabel.Master, true, Pod("replica", null, gate: false)));
        Assert.IsType<PodStep.Done>(Next(RoleLabel.Replica, true, Pod("replica", false, gate: false)));
    }

    [Fact]
    public void Next_KeepWithReadinessDown_ConditionOnlyLabelUntouched()
    {
        Assert.Equal(["condition False"], Apply(RoleLabel.Keep, false, Pod("master", true)));
        Assert.Empty(Apply(RoleLabel.Keep, false, Pod(null, false)));
    }

    [Fact]
    public void Next_ReadyReplicaConditionFalse_ConditionTrue()
    {
        Assert.Equal(["condition True"], Apply(RoleLabel.Replica, true, Pod("replica", false)));
    }

    [Fact]
    public void Next_AsDesired_Done()
    {
        Assert.IsType<PodStep.Done>(Next(RoleLabel.Master, true, Pod("master", true)));
        Assert.IsType<PodStep.Done>(Next(RoleLabel.Replica, false, Pod("replica", false)));
    }
    [Fact]
    public void Next_DemotionWithTheConditionWriteFailing_LabelFirst()
    {
        Assert.IsType<PodStep.PatchCondition>(PodPlanner.Next(RoleLabel.Replica, false, Pod("other", true), NoMasterPeer, Values, null, Bound, conditionFailing: false));
        AssertLabel("replica", PodPlanner.Next(RoleLabel.Replica, false, Pod("other", true), NoMasterPeer, Values, null, Bound, conditionFailing: true));
        // A labelled master sends both at once, failing or not.
        Assert.IsType<PodStep.Demote>(PodPlanner.Next(RoleLabel.Replica, false, Pod("master", true), NoMasterPeer, Values, null, Bound, conditionFailing: true));
        // Label already right: the condition is all there is to write, failing or not.
        Assert.IsType<PodStep.PatchCondition>(PodPlanner.Next(RoleLabel.Replica, false, Pod("replica", true), NoMasterPeer, Values, null, Bound, conditionFailing: true));
    }
}

public sealed class ReplicaPriorityPlannerTests
{
    [Theory]
    [InlineData("rev-1", "rev-2", 100, 200)]   // outdated revision: worse priority
    [InlineData("rev-1", "rev-2", 200, null)]  // already set
    [InlineData("rev-2", "rev-2", 200, 100)]   // current again: restored
    [InlineData("rev-2", "rev-2", 100, null)]
    [InlineData(null, "rev-2", 200, 100)]      // own revision unknown: treated as current
    [InlineData(null, "rev-2", 100, null)]
    [InlineData("rev-1", null, 200, 100)]      // update revision unknown: treated as current
    [InlineData("rev-1", "rev-2", 0, null)]    // 0 = never promote: the template's choice, left alone
    [InlineData("rev-2", "rev-2", 0, null)]
    [InlineData("rev-1", "rev-2", 50, null)]   // any other value: left alone
    [InlineData("rev-2", "rev-2", 150, null)]
    [InlineData("rev-1", "rev-2", null, null)] // not known (not a replica, or INFO without it)
    public void Plan_RevisionAndPriority_PriorityToSetOrNull(string? own, string? update, int? current, int? expected)
    {
        Assert.Equal(expected, ReplicaPriorityPlanner.Plan(own, update, current));
    }

}
