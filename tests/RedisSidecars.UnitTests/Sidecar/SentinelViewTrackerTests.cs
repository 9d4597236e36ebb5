using Microsoft.Extensions.Time.Testing;
using RedisSidecars.Core.Roles;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

public sealed class SentinelViewTrackerTests
{
    static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);
    readonly FakeTimeProvider clock = new();

    SentinelViewTracker Tracker(int configured = 3) => new(configured, Grace, clock);

    [Fact]
    public void Current_Initially_NoMasterNotLostNoEpoch()
    {
        var v = Tracker().Current;

        Assert.Null(v.Master);
        Assert.False(v.Lost);
        Assert.False(v.FailoverInProgress);
        Assert.Equal(3, v.Configured);
        Assert.Equal(0, v.Reachable);
        Assert.Equal("none", v.Source);
    }

    [Fact]
    public void OnPoll_OneOfThreeAnswers_NoView()
    {
        var t = Tracker();

        var changed = t.OnPoll([Says(0, Me, 1), Down(1), Down(2)]);

        Assert.False(changed);
        Assert.Null(t.Current.Master);
        Assert.Equal(1, t.Current.Reachable);
    }

    [Fact]
    public void OnPoll_TwoOfThreeAgree_TakesTheirMasterAndEpoch()
    {
        var t = Tracker();

        var changed = t.OnPoll([Says(0, Me, 4), Says(1, Me, 4), Down(2)]);

        Assert.True(changed);
        var v = t.Current;
        Assert.Equal(Me, v.Master);
        Assert.Equal(4, v.Epoch);
        Assert.Equal("poll", v.Source);
        Assert.Equal(2, v.Reachable);
    }

    [Fact]
    public void OnPoll_SameMasterAgain_NotAChange()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));

        Assert.False(t.OnPoll(AllSay(Me, 1)));
    }

    [Fact]
    public void OnPoll_LyingMinorityWithHigherEpoch_Ignored()
    {
        var t = Tracker();

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Says(2, Other, 9)]);

        Assert.Equal(Me, t.Current.Master);
        Assert.Equal(1, t.Current.Epoch); // the minority's epoch does not leak into the view
        Assert.True(t.OnSignal(Third, 2, "+switch-master")); // so a signal at epoch 2 (< the liar's 9) is still taken
    }

    [Fact]
    public void OnPoll_ThreeDifferentAnswers_NoViewButAllReachable()
    {
        var t = Tracker();

        var changed = t.OnPoll([Says(0, Me, 1), Says(1, Other, 1), Says(2, Third, 1)]);

        Assert.False(changed);
        Assert.Null(t.Current.Master);
        Assert.Equal(3, t.Current.Reachable);
    }

    [Fact]
    public void OnPoll_MajorityOfConfiguredNotOfAnswers_Required()
    {
        // 5 Sentinels configured, 2 answer and agree: 2 is a majority of the answers, not of the configured 5.
        var t = Tracker(5);

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1)]);

        Assert.Null(t.Current.Master);
    }

    [Fact]
    public void OnPromotionStarted_OfTheKnownMaster_ViewNamesTheReplicaUntilTheSignal()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));

        Assert.True(t.OnPromotionStarted(Sentinels[2], Me, Other));
        Assert.Equal((Me, Other), (t.Current.Master, t.Current.Promoting));

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Says(2, Me, 1, failover: true)]); // the leader still failing over
        Assert.Equal(Other, t.Current.Promoting);

        Assert.True(t.OnSignal(Other, 2, "+promoted-slave"));
        Assert.Equal(Other, t.Current.Master);
        Assert.Null(t.Current.Promoting);
    }

    [Fact]
    public void OnPromotionStarted_AnotherMaster_Ignored()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Other, 2));

        Assert.False(t.OnPromotionStarted(Sentinels[0], Me, Third)); // old news: the view has moved on from redis-0
        Assert.False(t.OnPromotionStarted(Sentinels[0], Other, Other));
        Assert.Null(t.Current.Promoting);
    }

    [Fact]
    public void OnPromotionStarted_NoViewYet_Ignored()
    {
        var t = Tracker();

        Assert.False(t.OnPromotionStarted(Sentinels[0], Me, Other));
        Assert.Null(t.Current.Promoting);
    }

    [Fact]
    public void OnPoll_LeaderNoLongerFailingOver_PromotionOver()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        t.OnPromotionStarted(Sentinels[2], Me, Other);
        clock.Advance(TimeSpan.FromMilliseconds(10));

        t.OnPoll(AllSay(Me, 1)); // -failover-abort-…: the leader names redis-0 and has no failover in progress

        Assert.Null(t.Current.Promoting);
        Assert.Equal(Me, t.Current.Master);
    }

    [Fact]
    public void OnPoll_AskedBeforeThePromotionBegan_DoesNotEndIt()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        var asked = clock.GetTimestamp();
        clock.Advance(TimeSpan.FromMilliseconds(5));
        t.OnPromotionStarted(Sentinels[2], Me, Other);

        t.OnPoll(AllSay(Me, 1), asked); // the leader answered before it sent SLAVEOF NO ONE

        Assert.Equal(Other, t.Current.Promoting);
    }

    [Fact]
    public void Current_LeaderSilentForTheGrace_PromotionOver()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        t.OnPromotionStarted(Sentinels[2], Me, Other);

        clock.Advance(Grace);
        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Down(2)]);
        Assert.Equal(Other, t.Current.Promoting);
        clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Null(t.Current.Promoting); // the leader is gone: nothing promotes redis-1, redis-0 stays master
    }

    [Fact]
    public void OnPoll_MajorityNamesPromotedReplicaWhileLeaderStillFailingOver_Decides()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));

        // The failover's last phase: every Sentinel names the promoted replica, the leader still flags the failover.
        var changed = t.OnPoll([Says(0, Other, 2, failover: true), Says(1, Other, 2), Says(2, Other, 2)]);

        Assert.True(changed);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
        Assert.True(t.Current.FailoverInProgress);
    }

    [Fact]
    public void OnPoll_FailoverFlagOnOneSentinel_ReportedUntilTheNextPollWithout()
    {
        var t = Tracker();
        t.OnPoll([Says(0, Me, 1, failover: true), Says(1, Me, 1), Says(2, Me, 1)]);
        Assert.True(t.Current.FailoverInProgress);

        t.OnPoll(AllSay(Me, 1));

        Assert.False(t.Current.FailoverInProgress);
    }

    [Fact]
    public void OnPoll_FailoverFlagOnAnUnreachableSentinel_NotReported()
    {
        var t = Tracker();

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Down(2) with { FailoverInProgress = true }]);

        Assert.False(t.Current.FailoverInProgress);
    }

    [Fact]
    public void OnSignal_NewerEpoch_TakenAtOnce()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));

        var accepted = t.OnSignal(Other, 2, "+promoted-slave");

        Assert.True(accepted);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
        Assert.Equal("+promoted-slave", t.Current.Source);
    }

    [Fact]
    public void OnSignal_WithoutAnyPoll_TakenAtOnce()
    {
        var t = Tracker();

        Assert.True(t.OnSignal(Other, 0, "+switch-master")); // a fresh set's first epoch is 0
        Assert.Equal(Other, t.Current.Master);
    }

    [Theory]
    [InlineData(4)] // equal: the same failover announced again (+switch-master after +promoted-slave)
    [InlineData(3)] // older: a late announcement
    public void OnSignal_EqualOrOlderEpoch_Rejected(long epoch)
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 4));

        var accepted = t.OnSignal(Other, epoch, "+switch-master");

        Assert.False(accepted);
        Assert.Equal(Me, t.Current.Master);
        Assert.Equal(4, t.Current.Epoch);
        Assert.Equal("poll", t.Current.Source);
    }

    [Fact]
    public void OnSignal_OlderThanAnEarlierSignal_Rejected()
    {
        var t = Tracker();
        t.OnSignal(Other, 5, "+promoted-slave");

        Assert.False(t.OnSignal(Third, 4, "+switch-master"));
        Assert.Equal(Other, t.Current.Master);
    }

    [Fact]
    public void OnPoll_MajorityStillShowsOldMasterWithOlderEpoch_DoesNotRollBack()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        t.OnSignal(Other, 2, "+promoted-slave");

        // The other Sentinels have not switched yet: two of three still name the old master at epoch 1.
        var changed = t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Says(2, Other, 2)]);

        Assert.False(changed);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
        Assert.Equal("+promoted-slave", t.Current.Source);
    }

    [Fact]
    public void OnPoll_MajorityConfirmsTheSignal_NoChangeEpochKept()
    {
        var t = Tracker();
        t.OnSignal(Other, 2, "+switch-master");

        var changed = t.OnPoll(AllSay(Other, 2));

        Assert.False(changed);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
        Assert.Equal("poll", t.Current.Source);
    }

    [Fact]
    public void OnPoll_SameMasterWithOlderEpoch_EpochNeverGoesBack()
    {
        var t = Tracker();
        t.OnSignal(Other, 7, "+switch-master");

        t.OnPoll(AllSay(Other, 5));

        Assert.Equal(7, t.Current.Epoch);
        Assert.False(t.OnSignal(Third, 6, "+switch-master"));
    }

    [Fact]
    public void OnPoll_NewerEpochThanTheLastSignal_Wins()
    {
        var t = Tracker();
        t.OnSignal(Other, 2, "+switch-master");

        var changed = t.OnPoll(AllSay(Third, 3)); // a failover whose signal this sidecar missed

        Assert.True(changed);
        Assert.Equal(Third, t.Current.Master);
        Assert.Equal(3, t.Current.Epoch);
    }

    [Fact]
    public void Lost_NoReachableMajority_OnlyAfterTheGrace()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));

        clock.Advance(TimeSpan.FromSeconds(3));
        t.OnPoll([Says(0, Me, 1), Down(1), Down(2)]); // a minority does not extend the grace
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(t.Current.Lost); // exactly the grace: not yet

        clock.Advance(TimeSpan.FromMilliseconds(1));
        var v = t.Current;
        Assert.True(v.Lost);
        Assert.Equal(Me, v.Master); // the last known master is kept; RoleDecider ignores it while lost
        Assert.Equal(1, v.Reachable);
    }

    [Fact]
    public void Lost_NoSentinelEverAnswered_AfterTheGraceFromStart()
    {
        var t = Tracker();
        t.OnPoll(NoneAnswer());
        clock.Advance(Grace);
        Assert.False(t.Current.Lost);

        clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.True(t.Current.Lost);
    }

    [Fact]
    public void Lost_MajorityPollAfterLoss_Recovers()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        clock.Advance(Grace + TimeSpan.FromSeconds(1));
        Assert.True(t.Current.Lost);

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Down(2)]);

        Assert.False(t.Current.Lost);
        Assert.Equal(2, t.Current.Reachable);
    }

    [Fact]
    public void Lost_SignalDuringLoss_DoesNotEndTheLoss()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        clock.Advance(Grace + TimeSpan.FromSeconds(1));

        Assert.True(t.OnSignal(Other, 2, "+switch-master"));

        Assert.True(t.Current.Lost); // one Sentinel's signal is not a reachable majority
    }

    [Fact]
    public void Lost_ReachableMajorityThatDisagrees_StillCountsAsReachable()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        clock.Advance(TimeSpan.FromSeconds(4));

        t.OnPoll([Says(0, Me, 1), Says(1, Other, 1), Down(2)]); // reachable, but no agreed master
        clock.Advance(TimeSpan.FromSeconds(4));                  // 8 s since the last agreement, 4 s since reachable

        var v = t.Current;
        Assert.False(v.Lost);
        Assert.Equal(2, v.Reachable);
        Assert.Equal(Me, v.Master);
    }

    [Fact]
    public void Lost_MajorityRegainedLater_GraceCountsFromTheLastMajority()
    {
        var t = Tracker();
        clock.Advance(TimeSpan.FromSeconds(4));
        t.OnPoll(AllSay(Me, 1));
        clock.Advance(TimeSpan.FromSeconds(4)); // 8 s from start, 4 s since the majority
        Assert.False(t.Current.Lost);

        clock.Advance(TimeSpan.FromSeconds(1.5));

        Assert.True(t.Current.Lost);
    }
}
