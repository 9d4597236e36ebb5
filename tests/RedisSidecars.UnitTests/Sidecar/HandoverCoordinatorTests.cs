using RedisSidecars.Core.Roles;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Sentinel;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>
/// The planned handover over the fakes, on a fake clock: the fakes answer at once, so the coordinator runs inside each
/// clock step and every wait and bound is virtual time (HANDOVER_TIMEOUT_MS = 5 s here).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HandoverCoordinatorTests
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    static readonly TimeSpan Max = TimeSpan.FromSeconds(60);
    readonly SidecarRig rig = new(o => o.HandoverTimeoutMs = "5000");
    readonly HandoverCoordinator coordinator;

    public HandoverCoordinatorTests()
    {
        rig.BecomeMaster(1);
        coordinator = rig.Coordinator();
        rig.Worker.HandoverActive = () => coordinator.Active;
    }

    Task<HandoverResult> Start(string trigger = "test") => coordinator.HandoverAsync(trigger, CancellationToken.None);

    /// <summary>While the coordinator keeps writes paused, the pause never runs out by itself (it is renewed or lifted).</summary>
    void PauseHolds()
    {
        if (coordinator.WritesPaused) Assert.False(rig.Redis.Lapsed, $"writes were to be paused at {rig.Clock.GetUtcNow():HH:mm:ss.fff} but the pause had lapsed; calls: {rig.Journal}");
    }

    Task<HandoverResult> DriveAsync(Task<HandoverResult> run) => rig.DriveAsync(run, Max, PauseHolds);

    /// <summary>The Sentinel that accepts promotes redis-1 (epoch 2) <paramref name="after"/> the request.</summary>
    void PromoteAfterAccepting(TimeSpan after) => rig.Sentinels.OnFailover = i =>
    {
        rig.Clock.At(after, () => rig.Sentinels.Promote(i, Other, 2));
        return (FailoverAnswer.Accepted, "OK");
    };

    /// <summary>A handover whose accepting Sentinel promotes redis-1 300 ms later; it must hand over. Returns when writes were first paused, from its start.</summary>
    async Task<TimeSpan> HandOverTimingThePauseAsync()
    {
        var start = rig.Clock.GetUtcNow();
        DateTimeOffset? paused = null;
        rig.Redis.OnPause = () => paused ??= rig.Clock.GetUtcNow();
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(300));

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        return paused!.Value - start;
    }

    void AssertNeverPausedAndNoFailover()
    {
        Assert.Equal(0, rig.Redis.Pauses);
        Assert.Equal(0, rig.Journal.Count("redis.unpause"));
        Assert.Equal(0, rig.Journal.CountStarting("sentinel.failover"));
        Assert.False(coordinator.Active);
        Assert.False(coordinator.WritesPaused);
    }

    void AssertUnpausedStayedMaster(int unpauses = 1, int orMore = 0)
    {
        Assert.InRange(rig.Journal.Count("redis.unpause"), unpauses, unpauses + orMore);
        Assert.Equal(0, rig.Journal.CountStarting("redis.replicaof"));
        Assert.Equal(0, rig.Journal.Count("redis.kill"));
        Assert.False(rig.Redis.Paused);
        Assert.False(coordinator.WritesPaused);
        Assert.False(coordinator.Active);
        Assert.False(rig.Metrics.HandoverWritesPaused);
    }

    [Fact]
    public async Task HandoverAsync_HappyPath_PauseCatchUpFailoverReplicaofUnpauseKillInOrder()
    {
        rig.Redis.State = MasterWithReplica(100, 90);                            // the replica is behind at first
        rig.Clock.At(TimeSpan.FromMilliseconds(50), () => rig.Redis.State = MasterWithReplica(100, 100));
        bool? caughtUpAtFailover = null, activeAtFailover = null, readyAtFailover = null;
        PodIntent? intentAtFailover = null;
        rig.Sentinels.OnFailover = i =>
        {
            caughtUpAtFailover = HandoverPlanner.CaughtUp(rig.Redis.State, rig.Redis.ReplicaOffsets);
            activeAtFailover = coordinator.Active;
            rig.Tick();                                                          // the reconcile loop meanwhile
            readyAtFailover = rig.Worker.Ready;
            intentAtFailover = rig.Applier.Intent;
            rig.Clock.At(TimeSpan.FromMilliseconds(300), () => rig.Sentinels.Promote(i, Other, 2));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.Contains(Other.ToString(), result.Detail);
        rig.Journal.AssertSubsequence("sentinel.probe-all", "redis.pause", "read.redis", "sentinel.failover 0", $"redis.replicaof {Other}", "redis.unpause", "redis.kill");
        Assert.Equal("redis.kill", rig.Journal.Starting("redis.").Last()); // clients go last, once writes resumed
        Assert.Equal(1, rig.Journal.Count("redis.kill"));
        Assert.Equal(1, rig.Journal.Count("redis.unpause"));
        Assert.Equal(1, rig.Journal.CountStarting("sentinel.failover"));
        Assert.True(caughtUpAtFailover);
        Assert.True(activeAtFailover);
        Assert.False(readyAtFailover);                                           // out of the Service at once
        Assert.Equal(new PodIntent(RoleLabel.Replica, false, "planned handover in progress"), intentAtFailover);
        Assert.InRange(result.Promotion!.Value, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(340)); // virtual time
        Assert.Equal(0, rig.Redis.Lapses);
        Assert.False(coordinator.Active);
        Assert.False(coordinator.WritesPaused);
        Assert.False(rig.Metrics.HandoverWritesPaused);
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.HandedOver).Value);
        Assert.Contains(rig.Pods.Events, e => e is ("Normal", "HandedOver", _));
        Assert.Equal(LocalRole.Replica, rig.Redis.State.Role);
    }

    [Fact]
    public async Task HandoverAsync_ReplicaHasTheTailBeforeItsAck_FailoverAskedWithoutWaitingForTheAck()
    {
        // The master's INFO still shows the replica's last acknowledged offset (90); the replica itself answers 100.
        rig.Redis.State = MasterWithReplica(100, 90);
        rig.Redis.ReplicaOffsets = [100];
        TimeSpan? askedAfterPause = null;
        rig.Sentinels.OnFailover = i =>
        {
            askedAfterPause = rig.Clock.GetUtcNow() - pausedAt;
            rig.Clock.At(TimeSpan.FromMilliseconds(300), () => rig.Sentinels.Promote(i, Other, 2));
            return (FailoverAnswer.Accepted, "OK");
        };
        rig.Redis.OnPause = () => pausedAt ??= rig.Clock.GetUtcNow();

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        rig.Journal.AssertSubsequence("redis.connect-replicas", "redis.pause", "sentinel.failover 0");
        Assert.Equal(TimeSpan.Zero, askedAfterPause);                         // no virtual time passed: no wait for the ACK
    }
    DateTimeOffset? pausedAt;

    [Fact]
    public async Task HandoverAsync_OneOfTwoReplicasBehind_NoFailoverUntilBothHaveTheTail()
    {
        rig.Redis.State = new LocalRedisState(LocalRole.Master, Offset: 100, Replicas: [new(Other, "online", 100, 0), new(Third, "online", 80, 0)]);
        rig.Redis.ReplicaOffsets = [100, 80];
        rig.Clock.At(TimeSpan.FromSeconds(2), () => rig.Redis.ReplicaOffsets = [100, 100]);
        DateTimeOffset? askedAt = null;
        var start = rig.Clock.GetUtcNow();
        rig.Sentinels.OnFailover = i =>
        {
            askedAt = rig.Clock.GetUtcNow();
            rig.Clock.At(TimeSpan.FromMilliseconds(300), () => rig.Sentinels.Promote(i, Other, 2));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.InRange(askedAt!.Value - start, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2.1));
    }

    [Fact]
    public async Task HandoverAsync_AReplicaNeverCatchesUp_CatchUpTimedOutNoFailover()
    {
        rig.Redis.State = new LocalRedisState(LocalRole.Master, Offset: 100, Replicas: [new(Other, "online", 100, 0), new(Third, "online", 80, 0)]);
        rig.Redis.ReplicaOffsets = [100, 80];

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.CatchUpTimedOut, result.Outcome);
        Assert.Equal(0, rig.Journal.CountStarting("sentinel.failover"));
        AssertUnpausedStayedMaster();
    }

    [Fact]
    public async Task HandoverAsync_PromotionSeenThroughANewerEpochSignal_HandedOver()
    {
        // The accepting Sentinel stops answering; another Sentinel's +promoted-slave (epoch 2) reaches the worker.
        rig.Sentinels.OnFailover = i =>
        {
            rig.Clock.At(TimeSpan.FromMilliseconds(100), () => rig.Sentinels[i] = FakeSentinel.Unreachable("timed out"));
            rig.Clock.At(TimeSpan.FromMilliseconds(400), () => _ = rig.Worker.OnSignalAsync(new FailoverSignal(Sentinels[1], "+promoted-slave", Other, 2, rig.Clock.GetTimestamp())));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.Contains("+promoted-slave", result.Detail);
        rig.Journal.AssertSubsequence($"redis.replicaof {Other}", "redis.unpause", "redis.kill");
    }

    [Fact]
    public async Task HandoverAsync_PromotedSlaveSignal_SeenAtOnceNotAtTheNextProbe()
    {
        // The accepting Sentinel stops answering, so only the signal can tell; it arrives between two 20 ms probes.
        var signalled = false;
        rig.Sentinels.OnFailover = i =>
        {
            rig.Clock.At(TimeSpan.FromMilliseconds(1), () => rig.Sentinels[i] = FakeSentinel.Unreachable("timed out"));
            rig.Clock.At(TimeSpan.FromMilliseconds(405), () =>
            {
                _ = rig.Worker.OnSignalAsync(new FailoverSignal(Sentinels[1], "+promoted-slave", Other, 2, rig.Clock.GetTimestamp()));
                signalled = true;
            });
            return (FailoverAnswer.Accepted, "OK");
        };
        var run = Start();

        await rig.DriveUntilAsync(() => signalled, Max, PauseHolds);

        // From here the clock stands still: a handover that waited for its next probe would never finish.
        Eventually.Holds(() => run.IsCompleted, "the handover ends on the signal, with no more time passing", () => rig.Journal.ToString());
        Assert.Equal(HandoverOutcome.HandedOver, (await run).Outcome);
    }

    [Theory]
    [InlineData(2.0, 2.0)]    // Sentinel reads redis-2's 200 at 2 s: the pause starts then
    [InlineData(60.0, 2.5)]   // it never does: asked anyway after half the 5 s bound
    public async Task HandoverAsync_SentinelHasNotReadAnOutdatedReplicasPriority_WritesPausedOnlyOnceItHas(double readsAt, double pausedAt)
    {
        // A rolling restart: redis-2 runs the old revision and has set priority 200, which Sentinel has not read yet.
        rig.Kube.Update(f => f with { Peers = [.. f.Peers.Select(p => p.Name == "redis-2" ? p with { RevisionHash = "rev-0" } : p)] });
        var start = rig.Clock.GetUtcNow();
        rig.Sentinels.Replicas = () => [Row(Other, 100), Row(Third, rig.Clock.GetUtcNow() - start >= TimeSpan.FromSeconds(readsAt) ? 200 : 100)];

        var paused = await HandOverTimingThePauseAsync();

        Assert.InRange(paused, TimeSpan.FromSeconds(pausedAt), TimeSpan.FromSeconds(pausedAt + 0.3));
        rig.Journal.AssertSubsequence("sentinel.replicas 0", "redis.pause", "sentinel.failover 0");
    }

    [Fact]
    public async Task HandoverAsync_SentinelSeesThePrioritiesAsTheyAre_NoWait()
    {
        rig.Sentinels.Replicas = () => [Row(Other, 100), Row(Third, 100)];

        var paused = await HandOverTimingThePauseAsync();

        Assert.Equal(TimeSpan.Zero, paused);
    }

    [Fact]
    public async Task HandoverAsync_PromotionWhileWaiting_PauseRenewedNeverLapses()
    {
        PromoteAfterAccepting(TimeSpan.FromSeconds(4));

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.True(rig.Redis.Pauses >= 4, $"expected the 3 s pause to be renewed every second for 4 s, got {rig.Redis.Pauses} pauses");
        Assert.Equal(0, rig.Redis.Lapses);
    }

    [Fact]
    public async Task HandoverAsync_NotMaster_NotMasterAtOnce()
    {
        rig.Sentinels.SetAll(Other, 2);
        rig.Redis.State = ReplicaOf(Other);
        rig.Tick();

        var run = Start();

        Assert.True(run.IsCompleted, "nothing to hand over: the answer comes at once");
        Assert.Equal(HandoverOutcome.NotMaster, (await run).Outcome);
        AssertNeverPausedAndNoFailover();
        Assert.Equal(0, rig.Journal.CountStarting("sentinel.probe"));
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.NotMaster).Value);
    }

    public static TheoryData<string, SentinelEntry[]> NoReplicaComing => new()
    {
        { "a lone master", [] },
        { "every replica down", [Row(Other, flags: "s_down,slave"), Row(Third, flags: "s_down,o_down,slave", linkOk: false)] },
        { "Sentinel lost every replica's connection", [Row(Other, flags: "slave,disconnected")] },
    };

    [Theory]
    [MemberData(nameof(NoReplicaComing))]
    public async Task HandoverAsync_NoOnlineReplicaAndNoneComing_NoHealthyReplicaAtOnce(string why, SentinelEntry[] sentinelReplicas)
    {
        rig.Redis.State = LonelyMaster();
        rig.Sentinels.Replicas = () => sentinelReplicas;

        var run = Start();

        Assert.True(run.IsCompleted, why);
        Assert.Equal(HandoverOutcome.NoHealthyReplica, (await run).Outcome);
        AssertNeverPausedAndNoFailover();
        Assert.Equal(3, rig.Journal.CountStarting("sentinel.replicas")); // every Sentinel asked once
    }

    [Fact]
    public async Task HandoverAsync_RightAfterAFailover_TheReplicaStillSyncing_WaitsForItAndHandsOver()
    {
        // A compound fault: the pod is deleted a moment after a failover made it master; the old master (now a replica)
        // is still resyncing. Stopping unhanded would cost the set a forced failover.
        rig.Redis.State = MasterWithReplica(state: "wait_bgsave");
        rig.Clock.At(TimeSpan.FromMilliseconds(1500), () => rig.Redis.State = MasterWithReplica());

        var paused = await HandOverTimingThePauseAsync();

        Assert.InRange(paused, TimeSpan.FromMilliseconds(1500), TimeSpan.FromMilliseconds(1700)); // never paused while waiting
        Assert.Equal(1, rig.Journal.CountStarting("sentinel.replicas")); // only the priority check's: the master's own INFO was evidence enough
        Assert.Contains(rig.Logger.Lines, l => l.Text.Contains($"no online replica yet, but replica {Other} is attached (wait_bgsave)", StringComparison.Ordinal));
        Assert.Contains(rig.Logger.Lines, l => l.Text.Contains("replica online after", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandoverAsync_NoReplicaAttachedYetButSentinelHoldsOneUp_WaitsForItAndHandsOver()
    {
        // Before the old master has even reconnected, only Sentinel knows a replica is coming.
        rig.Redis.State = LonelyMaster();
        rig.Sentinels.Replicas = () => [Row(Other, flags: "s_down,slave"), Row(Third, linkOk: false)];
        rig.Clock.At(TimeSpan.FromMilliseconds(800), () => rig.Redis.State = MasterWithReplica());
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(300));

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.Contains(rig.Logger.Lines, l => l.Text.Contains($"Sentinel holds {Third} as a replica of this master, up (slave, link down)", StringComparison.Ordinal));
        rig.Journal.AssertSubsequence("sentinel.replicas 0", "redis.pause", "sentinel.failover 0");
    }

    [Fact]
    public async Task HandoverAsync_WaitedForAReplica_ThenSentinelNeverReadsAPriority_LeavesHalfOfWhatIsLeftForTheRest()
    {
        // Two waits in a row (a replica resyncing after a failover, then a rolling restart's priority Sentinel has not
        // read): the second may take only half of what the first left of the 5 s bound, or the catch-up and the
        // promotion would have no time left.
        rig.Redis.State = MasterWithReplica(state: "wait_bgsave");
        rig.Clock.At(TimeSpan.FromSeconds(2), () => rig.Redis.State = MasterWithReplica());
        rig.Kube.Update(f => f with { Peers = [.. f.Peers.Select(p => p.Name == "redis-2" ? p with { RevisionHash = "rev-0" } : p)] });
        rig.Sentinels.Replicas = () => [Row(Other, 100), Row(Third, 100)]; // never reads redis-2's 200

        var paused = await HandOverTimingThePauseAsync();

        Assert.InRange(paused, TimeSpan.FromSeconds(3.5), TimeSpan.FromSeconds(3.8)); // 2 s, then (5 - 2) / 2
    }

    [Fact]
    public async Task HandoverAsync_AReplicaComingNeverComesOnline_NoHealthyReplicaAfterHalfTheBound_NeverPaused()
    {
        rig.Redis.State = MasterWithReplica(state: "send_bulk");
        var start = rig.Clock.GetUtcNow();

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.NoHealthyReplica, result.Outcome);
        Assert.InRange(rig.Clock.GetUtcNow() - start, Bound / 2, Bound / 2 + TimeSpan.FromMilliseconds(200));
        AssertNeverPausedAndNoFailover();
        Assert.Contains(rig.Logger.Lines, l => l.Text.Contains($"still no online replica after", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandoverAsync_WaitingForAReplica_TheReplicaGoesDown_NoHealthyReplicaWithoutWaitingOut()
    {
        rig.Redis.State = LonelyMaster();
        var down = false;
        rig.Sentinels.Replicas = () => [Row(Other, flags: down ? "s_down,slave" : "slave", linkOk: false)];
        rig.Clock.At(TimeSpan.FromMilliseconds(700), () => down = true);
        var start = rig.Clock.GetUtcNow();

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.NoHealthyReplica, result.Outcome);
        Assert.InRange(rig.Clock.GetUtcNow() - start, TimeSpan.FromMilliseconds(700), TimeSpan.FromMilliseconds(900));
        AssertNeverPausedAndNoFailover();
    }

    [Fact]
    public async Task HandoverAsync_LocalUnreachable_RetriesThenLocalUnreachable()
    {
        rig.Redis.State = Unreachable;

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.LocalUnreachable, result.Outcome);
        Assert.True(rig.Journal.Count("read.redis") > 2, "one failed read is not an answer: it asks again");
        AssertNeverPausedAndNoFailover();
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.LocalUnreachable).Value);
        Assert.Contains(rig.Pods.Events, e => e is ("Warning", "HandoverFailed", _));
    }

    [Fact]
    public async Task HandoverAsync_LocalBackAfterAFailedRead_HandedOver()
    {
        rig.Redis.State = Unreachable;
        rig.Clock.At(TimeSpan.FromMilliseconds(300), () => rig.Redis.State = MasterWithReplica());
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(100));

        Assert.Equal(HandoverOutcome.HandedOver, (await DriveAsync(Start())).Outcome);
    }

    [Fact]
    public async Task HandoverAsync_PauseFails_LocalUnreachableNoFailoverAsked()
    {
        rig.Redis.Fails = command => command == "pause" ? "timed out" : null;

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.LocalUnreachable, result.Outcome);
        Assert.Contains("cannot pause writes", result.Detail);
        Assert.Equal(0, rig.Journal.CountStarting("sentinel.failover"));
        Assert.False(coordinator.Active);
        Assert.False(coordinator.WritesPaused);
    }

    [Fact]
    public async Task HandoverAsync_EverySentinelInTiltUntilTheBound_NoSentinelReadyNeverPaused()
    {
        for (var i = 0; i < 3; i++) rig.Sentinels.Update(i, s => s with { Tilt = true });

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.NoSentinelReady, result.Outcome);
        Assert.Contains("TILT", result.Detail);
        Assert.Contains("never paused", result.Detail);
        Assert.True(result.Took >= Bound);
        AssertNeverPausedAndNoFailover();
        Assert.True(rig.Journal.Count("sentinel.probe-all") > 2, "it asks again until the bound");
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.NoSentinelReady).Value);
    }

    [Fact]
    public async Task HandoverAsync_TiltEndsWithinTheBound_PausesOnlyThenAndHandsOver()
    {
        for (var i = 0; i < 3; i++) rig.Sentinels.Update(i, s => s with { Tilt = true });
        rig.Clock.At(TimeSpan.FromSeconds(2), () => rig.Sentinels.Update(1, s => s with { Tilt = false }));
        var start = rig.Clock.GetUtcNow();
        DateTimeOffset? firstPause = null;
        rig.Redis.Fails = command =>
        {
            if (command == "pause") firstPause ??= rig.Clock.GetUtcNow();
            return null;
        };
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(200));

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.True(firstPause - start >= TimeSpan.FromSeconds(2), $"paused {firstPause - start} after the start, before TILT ended");
        Assert.Equal(["sentinel.failover 1"], rig.Journal.Starting("sentinel.failover")); // the one out of TILT
    }

    [Fact]
    public async Task HandoverAsync_OneSentinelInTilt_AsksAnother()
    {
        rig.Sentinels.Update(0, s => s with { Tilt = true });
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(100));

        Assert.Equal(HandoverOutcome.HandedOver, (await DriveAsync(Start())).Outcome);
        Assert.Equal(["sentinel.failover 1"], rig.Journal.Starting("sentinel.failover"));
    }

    [Fact]
    public async Task HandoverAsync_SentinelRefusesUntilTheBound_AskedAgainUnpausedInBetweenThenSentinelRefused()
    {
        rig.Sentinels.OnFailover = _ => (FailoverAnswer.Refused, "ERR NOGOODSLAVE No suitable replica to promote");

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.SentinelRefused, result.Outcome);
        Assert.Contains("NOGOODSLAVE", result.Detail);
        Assert.True(rig.Journal.Count("sentinel.failover 0") > 1, "a refusal within the bound is asked again: " + rig.Journal);
        rig.Journal.AssertSubsequence("redis.pause", "sentinel.failover 0", "redis.unpause", "redis.pause", "sentinel.failover 0", "redis.unpause");
        // Each refusal resumed writes (and the last pause too, if the bound ran out while waiting for the catch-up).
        AssertUnpausedStayedMaster(unpauses: rig.Journal.Count("sentinel.failover 0"), orMore: 1);
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.SentinelRefused).Value);
    }

    [Fact]
    public async Task HandoverAsync_SentinelRefusesOnceRightAfterAnotherFailover_AskedAgainAndHandsOver()
    {
        // -NOGOODSLAVE while the replicas still resync after the previous failover: over in a moment.
        var asked = 0;
        rig.Sentinels.OnFailover = i =>
        {
            if (asked++ == 0) return (FailoverAnswer.Refused, "ERR NOGOODSLAVE No suitable replica to promote");
            rig.Sentinels.Update(i, s => s with { FailoverInProgress = true });
            rig.Clock.At(TimeSpan.FromMilliseconds(500), () => rig.Sentinels.Promote(i, Other, 2));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        rig.Journal.AssertSubsequence("redis.pause", "sentinel.failover 0", "redis.unpause", "redis.pause", "sentinel.failover 0", $"redis.replicaof {Other}", "redis.unpause");
    }

    [Fact]
    public async Task HandoverAsync_UnknownAnswerButAccepted_WaitsAndHandsOver()
    {
        // The reply timed out, but the Sentinel got the request: it is treated as accepted, not as a refusal.
        rig.Sentinels.OnFailover = i =>
        {
            rig.Sentinels.Update(i, s => s with { FailoverInProgress = true });
            rig.Clock.At(TimeSpan.FromSeconds(1), () => rig.Sentinels.Promote(i, Other, 2));
            return (FailoverAnswer.Unknown, "timed out");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.Equal(0, rig.Redis.Lapses);
        rig.Journal.AssertSubsequence("sentinel.failover 0", $"redis.replicaof {Other}", "redis.unpause", "redis.kill");
        Assert.Equal(1, rig.Journal.Count("redis.unpause"));
    }

    [Fact]
    public async Task HandoverAsync_UnknownAnswerAndNoFailoverAnywhere_VerifiedAbortNotRefused()
    {
        rig.Sentinels.OnFailover = _ => (FailoverAnswer.Unknown, "connection reset");

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.FailoverAborted, result.Outcome);
        AssertUnpausedStayedMaster();
    }

    [Fact]
    public async Task HandoverAsync_FailoverVerifiablyAborted_UnpausedFailoverAborted()
    {
        rig.Sentinels.OnFailover = i =>
        {
            rig.Clock.At(TimeSpan.FromSeconds(1), () => rig.Sentinels.Abort(i));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.FailoverAborted, result.Outcome);
        Assert.True(result.Took >= TimeSpan.FromSeconds(1));
        AssertUnpausedStayedMaster();
        Assert.Equal(0, rig.Redis.Lapses);
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.FailoverAborted).Value);
    }

    [Fact]
    public async Task HandoverAsync_AcceptingSentinelUnreachableOthersNameThisPod_PendingNotAborted()
    {
        rig.Sentinels.OnFailover = i =>
        {
            rig.Clock.At(TimeSpan.FromMilliseconds(100), () => rig.Sentinels[i] = FakeSentinel.Unreachable("timed out"));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.FailoverPending, result.Outcome);
        Assert.Equal(0, rig.Journal.Count("redis.unpause"));
        Assert.True(rig.Redis.Paused);
    }

    [Fact]
    public async Task HandoverAsync_PromotionNotSeenWithinTheBound_PendingWritesStayPausedUntilItCompletes()
    {
        rig.Sentinels.OnFailover = _ => (FailoverAnswer.Accepted, "OK"); // in progress, and nothing more for now

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.FailoverPending, result.Outcome);
        Assert.True(result.Took >= Bound);
        Assert.True(coordinator.WritesPaused);
        Assert.True(coordinator.Active);
        Assert.True(rig.Metrics.HandoverWritesPaused);
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.FailoverPending).Value);
        Assert.Contains(rig.Pods.Events, e => e is ("Warning", "HandoverPending", _));
        var pending = coordinator.Pending;
        Assert.NotNull(pending);

        // Long after the answer the pause is still renewed, and nothing resumes writes.
        var pausesAtAnswer = rig.Redis.Pauses;
        await rig.DriveUntilAsync(() => rig.Redis.Pauses >= pausesAtAnswer + 10, Max, PauseHolds);
        Assert.Equal(0, rig.Journal.Count("redis.unpause"));
        Assert.True(rig.Redis.Paused);
        Assert.False(pending.IsCompleted);

        // Then Sentinel completes the failover: the node replicates the new master, unpauses and disconnects its clients.
        rig.Sentinels.Promote(0, Other, 2);
        await rig.DriveUntilAsync(() => pending.IsCompleted, Max, PauseHolds);
        await pending;

        rig.Journal.AssertSubsequence($"redis.replicaof {Other}", "redis.unpause", "redis.kill");
        Assert.Equal(1, rig.Journal.Count("redis.unpause"));
        Assert.False(coordinator.WritesPaused);
        Assert.False(coordinator.Active);
        Assert.Equal(0, rig.Redis.Lapses);
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.HandedOver).Value);
    }

    [Fact]
    public async Task HandoverAsync_PendingFailoverLaterAborted_UnpausedThen()
    {
        rig.Sentinels.OnFailover = _ => (FailoverAnswer.Accepted, "OK");
        Assert.Equal(HandoverOutcome.FailoverPending, (await DriveAsync(Start())).Outcome);
        var pending = coordinator.Pending!;

        rig.Sentinels.Abort(0);
        await rig.DriveUntilAsync(() => pending.IsCompleted, Max, PauseHolds);
        await pending;

        AssertUnpausedStayedMaster();
        Assert.Equal(1, rig.Metrics.Handovers(HandoverOutcome.FailoverAborted).Value);
    }

    [Fact]
    public async Task HandoverAsync_CalledAgainWhileAFailoverIsPending_NoSecondRunNothingResumed()
    {
        // preStop ended with FailoverPending, then SIGTERM (or an operator) asks again. The other Sentinels can act
        // and refuse: a second run would unpause while the first failover may still happen.
        rig.Sentinels.OnFailover = i => i == 0 ? (FailoverAnswer.Accepted, "OK") : (FailoverAnswer.Refused, "ERR INPROG");
        Assert.Equal(HandoverOutcome.FailoverPending, (await DriveAsync(Start("preStop"))).Outcome);

        var again = await DriveAsync(Start("SIGTERM"));

        Assert.Equal(HandoverOutcome.FailoverPending, again.Outcome);
        Assert.Equal(0, rig.Journal.Count("redis.unpause"));
        Assert.Equal(["sentinel.failover 0"], rig.Journal.Starting("sentinel.failover"));
        Assert.True(rig.Redis.Paused);
        Assert.True(coordinator.WritesPaused);
    }

    [Fact]
    public async Task HandoverAsync_ReplicaNeverCatchesUp_CatchUpTimedOutUnpausedNoFailover()
    {
        rig.Redis.State = MasterWithReplica(100, 90);

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.CatchUpTimedOut, result.Outcome);
        Assert.Equal(0, rig.Journal.CountStarting("sentinel.failover"));
        AssertUnpausedStayedMaster();
        Assert.Equal(0, rig.Redis.Lapses);
    }

    [Fact]
    public async Task HandoverAsync_ReplicaofFails_StillUnpausesAndHandsOver()
    {
        rig.Redis.Fails = command => command == "replicaof" ? "connection reset" : null;
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(100));

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        rig.Journal.AssertSubsequence($"redis.replicaof {Other}", "redis.unpause", "redis.kill");
        Assert.False(coordinator.WritesPaused);
    }

    [Fact]
    public async Task HandoverAsync_ConcurrentCalls_ShareOneRun()
    {
        PromoteAfterAccepting(TimeSpan.FromMilliseconds(200));

        var first = Start("preStop");
        var second = Start("SIGTERM");

        Assert.Same(first, second);
        Assert.Equal(HandoverOutcome.HandedOver, (await DriveAsync(first)).Outcome);
        Assert.Equal(1, rig.Journal.CountStarting("sentinel.failover"));
        Assert.Equal(1, rig.Journal.Count("redis.kill"));

        // A later call is a new run: this node is a replica now.
        rig.Sentinels.SetAll(Other, 2);
        Assert.Equal(HandoverOutcome.NotMaster, (await Start("again")).Outcome);
    }

    [Fact]
    public async Task HandoverAsync_ApiHangs_HandoverCompletesWithoutWaitingForIt()
    {
        // Every API call hangs, and the applier is running beside the handover, stuck on its first write.
        using var stop = new CancellationTokenSource();
        rig.Pods.Before = (_, ct) => FakePodClient.Hang(ct);
        var applier = rig.Applier.RunAsync(stop.Token);
        rig.Sentinels.OnFailover = i =>
        {
            rig.Tick(); // publishes replica/not ready: the applier starts a write that never returns
            rig.Clock.At(TimeSpan.FromMilliseconds(200), () => rig.Sentinels.Promote(i, Other, 2));
            return (FailoverAnswer.Accepted, "OK");
        };

        var result = await DriveAsync(Start());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        // The label and the condition go out together, in either order: wait for both to have started.
        Eventually.Holds(() => rig.Journal.CountStarting("api.condition") == 1 && rig.Journal.CountStarting("api.label") == 1, "the applier's writes started");
        // From the handover itself: one event, fired and not awaited (it is still hanging).
        Assert.Equal(["api.event Normal HandedOver"], rig.Journal.Starting("api.event"));
        Assert.Equal(["api.label replica"], rig.Journal.Starting("api.label")); // sent with the condition, hanging too
        Assert.False(applier.IsCompleted);
        await stop.CancelAsync();
        await applier.ContinueWith(_ => { }, TaskScheduler.Default);
    }
}
