using Microsoft.Extensions.Time.Testing;
using RedisSidecars.Core.Roles;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>The readiness threshold (REPLICA_NOT_READY_AFTER_MS), driven tick by tick on a fake clock.</summary>
public sealed class ReadinessStateTests
{
    static readonly TimeSpan Threshold = TimeSpan.FromSeconds(3);
    static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    static readonly DesiredState ReadyReplica = new(RoleLabel.Replica, true, "replica link up");
    static readonly DesiredState UnreadyReplica = new(RoleLabel.Replica, false, "replica link down");
    static readonly DesiredState ReadyMaster = new(RoleLabel.Master, true, "master");
    readonly FakeTimeProvider clock = new();
    ReadinessState state = ReadinessState.Initial;

    bool Next(DesiredState? desired, bool labelledMaster = false, TimeSpan? threshold = null)
    {
        state = state.Next(desired, labelledMaster, clock.GetTimestamp(), threshold ?? Threshold, clock);
        return state.Ready;
    }

    /// <summary>Feeds <paramref name="desired"/> every <see cref="Tick"/> for <paramref name="duration"/>; returns the readiness seen at each tick.</summary>
    List<bool> Hold(DesiredState? desired, TimeSpan duration, bool labelledMaster = false)
    {
        var seen = new List<bool>();
        for (var t = TimeSpan.Zero; t < duration; t += Tick)
        {
            seen.Add(Next(desired, labelledMaster));
            clock.Advance(Tick);
        }
        return seen;
    }

    [Fact]
    public void Initial_BeforeAnyDecision_NotReady()
    {
        Assert.False(ReadinessState.Initial.Ready);
    }

    [Fact]
    public void Next_NotReadyAndNotReadyDesired_StaysNotReady()
    {
        Assert.False(Next(UnreadyReplica));
        clock.Advance(Threshold * 2);
        Assert.False(Next(UnreadyReplica));
    }

    [Fact]
    public void Next_ReadyDesired_ReadyAtOnce()
    {
        Assert.True(Next(ReadyReplica));
    }

    [Fact]
    public void Next_NoViewWhileReady_NotReadyAtOnce()
    {
        Next(ReadyReplica);

        Assert.False(Next(null));
    }

    [Fact]
    public void Next_ReplicaFlapShorterThanTheThreshold_NeverDropsReadiness()
    {
        Next(ReadyReplica);

        // Three flaps of 2.9 s, each followed by one ready tick: none lasts the threshold, and each counts afresh.
        for (var i = 0; i < 3; i++)
        {
            Assert.All(Hold(UnreadyReplica, Threshold - Tick), Assert.True);
            Assert.True(Next(ReadyReplica));
            clock.Advance(Tick);
        }
    }

    [Fact]
    public void Next_ReplicaNotReadyForTheThreshold_DropsExactlyAtTheThreshold()
    {
        Next(ReadyReplica);

        Assert.True(Next(UnreadyReplica));   // t = 0: the not-ready state starts
        clock.Advance(Threshold - TimeSpan.FromMilliseconds(1));
        Assert.True(Next(UnreadyReplica));   // 2.999 s
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(Next(UnreadyReplica));  // 3 s
    }

    [Fact]
    public void Next_BackToReadyAfterADrop_ReadyAtOnce()
    {
        Next(ReadyReplica);
        Hold(UnreadyReplica, Threshold + Tick);
        Assert.False(state.Ready);

        Assert.True(Next(ReadyReplica));
    }

    [Fact]
    public void Next_PromotionInProgress_ReadyReplicaStaysReadyThenReadyMaster()
    {
        // A ready replica of redis-1; Sentinel promotes this pod: its Redis is master a moment before the Sentinels say so.
        Assert.True(Next(RoleDecider.Decide(View(Other), ReplicaOf(Other), IsMe)));
        var promoting = RoleDecider.Decide(View(Other, failover: true), LonelyMaster(), IsMe);
        Assert.Equal((RoleLabel.Replica, false, false), (promoting!.Label, promoting.Ready, promoting.Urgent));

        Assert.All(Hold(promoting, Threshold - Tick, labelledMaster: false), Assert.True);
        Assert.True(Next(RoleDecider.Decide(View(Me, epoch: 2), LonelyMaster(), IsMe)));
    }

    [Fact]
    public void Next_LabelledMasterDemoted_NotReadyAtOnce()
    {
        Next(ReadyMaster, labelledMaster: true);

        // Sentinels name another master while this pod still carries the master label: not a replica flap.
        var demoted = RoleDecider.Decide(View(Other, epoch: 2), LonelyMaster(), IsMe);

        Assert.False(Next(demoted, labelledMaster: true));
    }

    [Fact]
    public void Next_LabelledMasterWhoseRedisDoesNotAnswer_KeepsReadinessForTheThreshold()
    {
        // Keep (one unanswered INFO is not a demotion) is not a demotion either: the threshold applies.
        Next(ReadyMaster, labelledMaster: true);
        var keep = RoleDecider.Decide(View(Me), Unreachable, IsMe);
        Assert.Equal(RoleLabel.Keep, keep!.Label);

        Assert.All(Hold(keep, Threshold - Tick, labelledMaster: true), Assert.True);
        clock.Advance(Tick);
        Assert.False(Next(keep, labelledMaster: true));
    }

    [Fact]
    public void Next_UrgentOnAPodNotLabelledMaster_NotReadyAtOnce()
    {
        Next(ReadyReplica);

        Assert.False(Next(new DesiredState(RoleLabel.Replica, false, "planned handover in progress", Urgent: true)));
    }

    [Fact]
    public void Next_IsolatedMaster_NotReadyAtOnce()
    {
        Next(ReadyMaster, labelledMaster: true);
        var isolated = RoleDecider.Decide(View(Me, lost: true), MasterWithReplica(), IsMe);

        Assert.False(Next(isolated, labelledMaster: false)); // urgent: even before the label shows it
    }

    [Fact]
    public void Next_ZeroThreshold_ReplicaNotReadyAtOnce()
    {
        Next(ReadyReplica);

        Assert.False(Next(UnreadyReplica, threshold: TimeSpan.Zero));
    }

    [Fact]
    public void Next_ReadyBetweenFlaps_ResetsTheCount()
    {
        Next(ReadyReplica);
        Hold(UnreadyReplica, TimeSpan.FromSeconds(2));
        Next(ReadyReplica);

        Assert.All(Hold(UnreadyReplica, TimeSpan.FromSeconds(2)), Assert.True); // 4 s not ready in total, never 3 s in a row
    }
}
