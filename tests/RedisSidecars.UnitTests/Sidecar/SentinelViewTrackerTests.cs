using Microsoft.Extensions.Time.Testing;
using RedisSidecars.Core.Roles;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

public sealed class SentinelViewTrackerTests
{
    static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);
    readonly FakeTimeProvider clock = new();

    SentinelViewTracker Tracker() => new(3, Grace, clock);

    [Fact]
    public void Current_Initially_NoMasterNotLost()
    {
        var v = Tracker().Current;

        Assert.Null(v.Master);
        Assert.False(v.Lost);
        Assert.Equal(3, v.Configured);
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
    public void OnPoll_TwoOfThreeAgree_TakesTheirMaster()
    {
        var t = Tracker();

        var changed = t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Down(2)]);

        Assert.True(changed);
        Assert.Equal(Me, t.Current.Master);
        Assert.Equal(1, t.Current.Epoch);
        Assert.Equal("poll", t.Current.Source);
    }

    [Fact]
    public void OnPoll_LyingMinorityWithHigherEpoch_Ignored()
    {
        var t = Tracker();

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Says(2, Other, 9)]);

        Assert.Equal(Me, t.Current.Master);
        Assert.Equal(1, t.Current.Epoch); // the minority's epoch does not leak into the view
        // ... so an event at epoch 2 (less than the liar's 9) is still taken.
        Assert.True(t.OnSwitch(Third, 2));
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
        var t = new SentinelViewTracker(5, Grace, clock);

        t.OnPoll([Says(0, Me, 1), Says(1, Me, 1)]);

        Assert.Null(t.Current.Master);
    }

    [Fact]
    public void OnSwitch_NewerEpoch_TakenAtOnce()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));

        var accepted = t.OnSwitch(Other, 2);

        Assert.True(accepted);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
        Assert.Equal("event", t.Current.Source);
    }

    [Fact]
    public void OnSwitch_WithoutAnyPoll_TakenAtOnce()
    {
        var t = Tracker();

        Assert.True(t.OnSwitch(Other, 0));
        Assert.Equal(Other, t.Current.Master);
    }

    [Theory]
    [InlineData(4)] // equal
    [InlineData(3)] // older
    public void OnSwitch_EqualOrOlderEpoch_Rejected(long epoch)
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 4));

        var accepted = t.OnSwitch(Other, epoch);

        Assert.False(accepted);
        Assert.Equal(Me, t.Current.Master);
        Assert.Equal(4, t.Current.Epoch);
    }

    [Fact]
    public void OnSwitch_OlderThanAnEarlierEvent_Rejected()
    {
        var t = Tracker();
        t.OnSwitch(Other, 5);

        Assert.False(t.OnSwitch(Third, 4));
        Assert.Equal(Other, t.Current.Master);
    }

    [Fact]
    public void OnPoll_MajorityStillShowsOldMasterWithOlderEpoch_DoesNotRollBack()
    {
        var t = Tracker();
        t.OnPoll(AllSay(Me, 1));
        t.OnSwitch(Other, 2);

        // The other Sentinels have not updated yet: two of three still say the old master at epoch 1.
        var changed = t.OnPoll([Says(0, Me, 1), Says(1, Me, 1), Says(2, Other, 2)]);

        Assert.False(changed);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
    }

    [Fact]
    public void OnPoll_MajorityConfirmsTheEvent_NoChange()
    {
        var t = Tracker();
        t.OnSwitch(Other, 2);

        var changed = t.OnPoll(AllSay(Other, 2));

        Assert.False(changed);
        Assert.Equal(Other, t.Current.Master);
        Assert.Equal(2, t.Current.Epoch);
    }

    [Fact]
    public void OnPoll_NewerEpochThanTheLastEvent_Wins()
    {
        var t = Tracker();
        t.OnSwitch(Other, 2);

        var changed = t.OnPoll(AllSay(Third, 3)); // a failover whose event this sidecar missed

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
