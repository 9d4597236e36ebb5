using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

public sealed class HandoverPlannerTests
{
    static readonly NodeAddress S0 = Sentinels[0], S1 = Sentinels[1], S2 = Sentinels[2];

    static SentinelProbe Names(NodeAddress sentinel, NodeAddress master, long epoch = 1, bool tilt = false, bool failover = false) =>
        new(sentinel, null, master, epoch, tilt, failover);

    static SentinelProbe Silent(NodeAddress sentinel) => new(sentinel, "connection refused", null, 0, false, false);

    // --- Start ---

    [Fact]
    public void Start_MasterNamedWithOnlineReplicas_ProceedWithTheirCount()
    {
        var local = new LocalRedisState(LocalRole.Master, Offset: 10, Replicas:
            [new(Other, "online", 10, 0), new(Third, "online", 9, 1), new(new NodeAddress("127.0.1.4", 6379), "wait_bgsave", 0, 0)]);

        var step = HandoverPlanner.Start(local, View(Me), IsMe);

        Assert.Equal(2, Assert.IsType<HandoverStep.Proceed>(step).OnlineReplicas);
    }

    public static TheoryData<string, LocalRedisState, NodeAddress?, HandoverOutcome> Finishes => new()
    {
        { "no replica", LonelyMaster(), Me, HandoverOutcome.NoHealthyReplica },
        { "replica still syncing", MasterWithReplica(state: "wait_bgsave"), Me, HandoverOutcome.NoHealthyReplica },
        { "local replica", ReplicaOf(Other), Other, HandoverOutcome.NotMaster },
        { "local replica named master", ReplicaOf(Other), Me, HandoverOutcome.NotMaster },
        { "local master, sentinels name another", MasterWithReplica(), Other, HandoverOutcome.NotMaster },
        { "local master, no view", MasterWithReplica(), null, HandoverOutcome.NotMaster },
        { "local unreachable, named master", Unreachable, Me, HandoverOutcome.LocalUnreachable },
        { "local unreachable, another named", Unreachable, Other, HandoverOutcome.NotMaster },
    };

    [Theory]
    [MemberData(nameof(Finishes))]
    public void Start_NothingToHandOver_FinishWithOutcome(string why, LocalRedisState local, NodeAddress? named, HandoverOutcome expected)
    {
        var step = HandoverPlanner.Start(local, View(named), IsMe);

        var finish = Assert.IsType<HandoverStep.Finish>(step);
        Assert.True(expected == finish.Outcome, $"{why}: expected {expected}, got {finish.Outcome} ({finish.Detail})");
        Assert.DoesNotContain('\n', finish.Detail);
    }

    // --- ChooseSentinel ---

    [Fact]
    public void ChooseSentinel_AllCanAct_AsksTheFirst()
    {
        var step = HandoverPlanner.ChooseSentinel([Names(S0, Me), Names(S1, Me), Names(S2, Me)], IsMe);

        Assert.Equal(S0, Assert.IsType<HandoverStep.Ask>(step).Sentinel);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ChooseSentinel_OneInTilt_AsksAnotherThatCanAct(int tilted)
    {
        SentinelProbe[] probes = [Names(S0, Me, tilt: tilted == 0), Names(S1, Me, tilt: tilted == 1), Names(S2, Me)];

        var ask = Assert.IsType<HandoverStep.Ask>(HandoverPlanner.ChooseSentinel(probes, IsMe));

        Assert.NotEqual(Sentinels[tilted], ask.Sentinel);
    }

    [Fact]
    public void ChooseSentinel_TiltOnAll_WaitSayingSo()
    {
        var step = HandoverPlanner.ChooseSentinel([Names(S0, Me, tilt: true), Names(S1, Me, tilt: true), Names(S2, Me, tilt: true)], IsMe);

        var wait = Assert.IsType<HandoverStep.Wait>(step);
        Assert.Contains($"{S0} in TILT", wait.Why);
        Assert.Contains($"{S2} in TILT", wait.Why);
    }

    [Fact]
    public void ChooseSentinel_OnlyOneCanAct_AsksThatOne()
    {
        SentinelProbe[] probes = [Silent(S0), Names(S1, Other), Names(S2, Me)];

        Assert.Equal(S2, Assert.IsType<HandoverStep.Ask>(HandoverPlanner.ChooseSentinel(probes, IsMe)).Sentinel);
    }

    [Fact]
    public void ChooseSentinel_NoneCanAct_WaitNamingEachReason()
    {
        SentinelProbe[] probes = [Silent(S0), Names(S1, Other), Names(S2, Me, failover: true)];

        var wait = Assert.IsType<HandoverStep.Wait>(HandoverPlanner.ChooseSentinel(probes, IsMe));

        Assert.Contains($"{S0} unreachable (connection refused)", wait.Why);
        Assert.Contains($"{S1} names {Other}", wait.Why);
        Assert.Contains($"{S2} has a failover in progress", wait.Why);
        Assert.DoesNotContain('\n', wait.Why);
    }

    [Fact]
    public void ChooseSentinel_TiltedSentinelNamingAnother_NotAsked()
    {
        var step = HandoverPlanner.ChooseSentinel([Names(S0, Other, tilt: true), Names(S1, Me, tilt: true)], IsMe);

        Assert.IsType<HandoverStep.Wait>(step);
    }

    [Fact]
    public void ChooseSentinel_NoProbes_Wait()
    {
        Assert.IsType<HandoverStep.Wait>(HandoverPlanner.ChooseSentinel([], IsMe));
    }

    // --- StalePriority (what the Sentinel about to be asked last read, against what the peers set now) ---

    [Theory]
    [InlineData(100, 100, null)]
    [InlineData(200, 200, null)]
    [InlineData(100, 200, "still has")]   // an outdated replica's 200 not read yet: it could be promoted
    [InlineData(200, 100, "still has")]
    [InlineData(0, 200, null)]            // a template's own value (0: never promote) is Sentinel's business
    [InlineData(null, 200, null)]         // no priority in the row
    public void StalePriority_OneReplica(int? seen, int expected, string? stale)
    {
        var result = HandoverPlanner.StalePriority([Row(Other, seen)], [(Other, expected)]);

        if (stale is null) Assert.Null(result);
        else Assert.Contains(stale, result);
    }

    [Fact]
    public void StalePriority_ReplicaSentinelDoesNotList_NotWaitedFor()
    {
        Assert.Null(HandoverPlanner.StalePriority([Row(Third, 100)], [(Other, 200)]));
    }

    [Fact]
    public void StalePriority_NamesTheStaleReplica()
    {
        var result = HandoverPlanner.StalePriority([Row(Other, 100), Row(Third, 100)], [(Other, 100), (Third, 200)]);

        Assert.Equal($"Sentinel still has {Third} at replica-priority 100 (it is 200 now)", result);
    }

    // --- ReplicaComing (no online replica: wait for one on its way, or stop unhanded at once) ---

    public static TheoryData<string, LocalRedisState, SentinelEntry[]?, string?> Coming => new()
    {
        { "lone master, Sentinel knows no replica", LonelyMaster(), [], null },
        { "lone master, no Sentinel answered", LonelyMaster(), null, null },
        { "a replica attached, syncing", MasterWithReplica(state: "wait_bgsave"), [], $"replica {Other} is attached (wait_bgsave)" },
        { "Sentinel holds a replica up, link down (resyncing after a failover)", LonelyMaster(), [Row(Other, linkOk: false)], $"Sentinel holds {Other} as a replica of this master, up (slave, link down)" },
        { "Sentinel holds every replica down", LonelyMaster(), [Row(Other, flags: "s_down,slave"), Row(Third, flags: "s_down,o_down,slave")], null },
        { "Sentinel lost a replica's connection", LonelyMaster(), [Row(Other, flags: "slave,disconnected")], null },
        { "one down, one up", LonelyMaster(), [Row(Other, flags: "s_down,slave"), Row(Third)], $"Sentinel holds {Third} as a replica of this master, up (slave, link ok)" },
        { "a row without a valid address", LonelyMaster(), [new SentinelEntry(null, ["slave"], "", 0, Me, true, 100)], null },
        { "a lagging Sentinel lists this pod as a replica", LonelyMaster(), [Row(Me, linkOk: false)], null },
        { "an online replica: nothing to wait for", MasterWithReplica(), [Row(Other)], null },
    };

    [Theory]
    [MemberData(nameof(Coming))]
    public void ReplicaComing(string why, LocalRedisState local, SentinelEntry[]? sentinelReplicas, string? expected)
    {
        var coming = HandoverPlanner.ReplicaComing(local, sentinelReplicas, IsMe);

        Assert.True(expected == coming, $"{why}: {coming ?? "null"}");
    }

    // --- CaughtUp (acknowledged: the offset in the master's INFO; direct: what the replicas answered themselves) ---

    [Theory]
    [InlineData(100, "online", 100, new long[0], true)]
    [InlineData(100, "online", 101, new long[0], true)]
    [InlineData(100, "online", 99, new long[0], false)]
    [InlineData(100, "online", 99, new long[] { 100 }, true)]   // the replica has it; its ACK has not come yet
    [InlineData(100, "online", 99, new long[] { 99 }, false)]
    [InlineData(100, "wait_bgsave", 100, new long[] { 100 }, false)] // not online: nobody to hand over to
    public void CaughtUp_OneReplica_ByItsAcknowledgedOrItsOwnOffset(long master, string state, long acknowledged, long[] direct, bool expected)
    {
        Assert.Equal(expected, HandoverPlanner.CaughtUp(MasterWithReplica(master, acknowledged, state), direct));
    }

    [Theory]
    [InlineData(50, 40, new long[0], false)]            // Sentinel might promote the one still missing the tail
    [InlineData(50, 40, new long[] { 50 }, false)]      // one direct answer at the offset is still only one of two
    [InlineData(50, 40, new long[] { 50, 40 }, false)]
    [InlineData(50, 40, new long[] { 50, 50 }, true)]
    [InlineData(50, 50, new long[0], true)]
    public void CaughtUp_TwoReplicas_EveryOneMustHaveTheTail(long first, long second, long[] direct, bool expected)
    {
        var local = new LocalRedisState(LocalRole.Master, Offset: 50, Replicas: [new(Other, "online", first, 0), new(Third, "online", second, 0)]);

        Assert.Equal(expected, HandoverPlanner.CaughtUp(local, direct));
    }

    [Fact]
    public void CaughtUp_NoReplicasOrNotMaster_False()
    {
        Assert.False(HandoverPlanner.CaughtUp(LonelyMaster(), [100]));
        Assert.False(HandoverPlanner.CaughtUp(Unreachable, [100]));
    }

    // --- AfterAccept (S0 accepted, the set's epoch was 1) ---

    static HandoverStep After(SentinelView view, params SentinelProbe[] probes) => HandoverPlanner.AfterAccept(S0, probes, view, 1, IsMe);

    [Fact]
    public void AfterAccept_AcceptingSentinelNamesTheNewMaster_Promoted()
    {
        var step = After(View(Me), Names(S0, Other, 2, failover: true), Names(S1, Me), Names(S2, Me));

        var promoted = Assert.IsType<HandoverStep.Promoted>(step);
        Assert.Equal(Other, promoted.NewMaster);
        Assert.Contains(S0.ToString(), promoted.Seen);
    }

    [Fact]
    public void AfterAccept_NewerEpochViewNamesAnother_PromotedEvenWithTheAcceptingSentinelUnreachable()
    {
        var view = View(Other, epoch: 2, source: "+promoted-slave");

        var step = After(view, Silent(S0), Names(S1, Me), Names(S2, Me));

        var promoted = Assert.IsType<HandoverStep.Promoted>(step);
        Assert.Equal(Other, promoted.NewMaster);
        Assert.Contains("+promoted-slave", promoted.Seen);
    }

    [Fact]
    public void AfterAccept_ViewNamesAnotherAtTheOldEpoch_NotPromoted()
    {
        // A stale view (an older failover's master) is no evidence that this failover happened.
        var step = After(View(Other, epoch: 1), Names(S0, Me, failover: true), Names(S1, Me), Names(S2, Me));

        Assert.IsType<HandoverStep.Wait>(step);
    }

    [Fact]
    public void AfterAccept_NewerEpochViewNamingThisPod_NotPromoted()
    {
        var step = After(View(Me, epoch: 3), Names(S0, Me, failover: true), Names(S1, Me), Names(S2, Me));

        Assert.IsType<HandoverStep.Wait>(step);
    }

    [Fact]
    public void AfterAccept_AcceptingSentinelUnreachable_PendingNotAborted()
    {
        // Every other Sentinel names this pod with no failover: that is what they say before the switch, too.
        var step = After(View(Me), Silent(S0), Names(S1, Me), Names(S2, Me));

        var wait = Assert.IsType<HandoverStep.Wait>(step);
        Assert.Contains("does not answer", wait.Why);
    }

    [Fact]
    public void AfterAccept_AcceptingSentinelNotProbed_PendingNotAborted()
    {
        Assert.IsType<HandoverStep.Wait>(After(View(Me), Names(S1, Me), Names(S2, Me)));
    }

    [Fact]
    public void AfterAccept_FailoverInProgressOnTheAcceptingSentinel_Pending()
    {
        var wait = Assert.IsType<HandoverStep.Wait>(After(View(Me), Names(S0, Me, failover: true), Names(S1, Me), Names(S2, Me)));

        Assert.Contains("in progress", wait.Why);
    }

    [Fact]
    public void AfterAccept_NoSentinelHasItInProgressAllNameThisPod_VerifiedAbort()
    {
        var step = After(View(Me), Names(S0, Me), Names(S1, Me), Silent(S2));

        Assert.Equal(HandoverOutcome.FailoverAborted, Assert.IsType<HandoverStep.Finish>(step).Outcome);
    }

    [Fact]
    public void AfterAccept_AnotherSentinelHasAFailoverInProgress_NotAborted()
    {
        Assert.IsType<HandoverStep.Wait>(After(View(Me), Names(S0, Me), Names(S1, Me, failover: true), Names(S2, Me)));
    }

    [Fact]
    public void AfterAccept_AnotherSentinelNamesAnotherMaster_NotAborted()
    {
        Assert.IsType<HandoverStep.Wait>(After(View(Me), Names(S0, Me), Names(S1, Third, 2), Names(S2, Me)));
    }

    [Theory]
    [InlineData(HandoverOutcome.HandedOver, false)]
    [InlineData(HandoverOutcome.NotMaster, false)]
    [InlineData(HandoverOutcome.NoHealthyReplica, false)]
    [InlineData(HandoverOutcome.LocalUnreachable, true)]
    [InlineData(HandoverOutcome.NoSentinelReady, true)]
    [InlineData(HandoverOutcome.SentinelRefused, true)]
    [InlineData(HandoverOutcome.CatchUpTimedOut, true)]
    [InlineData(HandoverOutcome.FailoverAborted, true)]
    [InlineData(HandoverOutcome.FailoverPending, true)]
    public void IsFailure_Outcome_FailuresAreWhatAPreStopHookMustSee(HandoverOutcome outcome, bool failure)
    {
        Assert.Equal(failure, HandoverOutcomes.IsFailure(outcome));
    }
}
