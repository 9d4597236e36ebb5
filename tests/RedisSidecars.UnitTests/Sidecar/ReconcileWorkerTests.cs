using RedisSidecars.Core.Roles;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Sentinel;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>The reconcile loop over the fakes: one tick at a time (RunOnceAsync), and the loop itself where it matters.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ReconcileWorkerTests
{
    // Ticks come from Wake() and watch changes only (the loop's own interval is a minute).
    readonly SidecarRig rig = new(o => { o.ReconcileIntervalMs = "60000"; o.LivenessTimeoutMs = "120000"; });

    PodIntent? Intent => rig.Applier.Intent;

    void BecomeReplica(long epoch = 1)
    {
        rig.Kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels("redis-role", "replica") });
        rig.Sentinels.SetAll(Other, epoch);
        rig.Redis.State = ReplicaOf(Other);
        rig.Tick();
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public void RunOnceAsync_NamedMasterAndLocalMaster_PublishesMasterReady()
    {
        rig.BecomeMaster();

        Assert.Equal(RoleLabel.Master, Intent!.Label);
        Assert.True(Intent.Ready);
        Assert.True(rig.Metrics.Ready);
        Assert.Equal(3, rig.Metrics.SentinelsReachable);
        Assert.Equal(3, rig.Metrics.SentinelsConfigured);
        Assert.False(rig.Metrics.SentinelMajorityLost);
    }

    // --- the safety-net tick: longer while steady (events wake the loop at once) ---

    static SidecarRig SteadyRig() => new(o => { o.ReconcileIntervalMs = "1000"; o.SentinelLossGraceMs = "5000"; });

    [Fact]
    public void NextInterval_Steady_TwiceTheInterval()
    {
        var r = SteadyRig();
        Assert.Equal(TimeSpan.FromSeconds(1), r.Worker.NextInterval);   // nothing seen yet

        r.BecomeMaster();

        Assert.Equal(TimeSpan.FromSeconds(2), r.Worker.NextInterval);
    }

    [Theory]
    [InlineData("one Sentinel unreachable")]
    [InlineData("one Sentinel names another master")]
    [InlineData("a failover in progress")]
    [InlineData("local Redis unreachable")]
    [InlineData("local Redis a replica")]
    public void NextInterval_AnythingInMotion_TheInterval(string unsteady)
    {
        var r = SteadyRig();
        r.BecomeMaster();
        switch (unsteady)
        {
            case "one Sentinel unreachable": r.Sentinels[2] = FakeSentinel.Unreachable("connection refused"); break;
            case "one Sentinel names another master": r.Sentinels[2] = new FakeSentinel(Other, 1); break;
            case "a failover in progress": r.Sentinels[2] = new FakeSentinel(Me, 1, FailoverInProgress: true); break;
            case "local Redis unreachable": r.Redis.State = Unreachable; break;
            default: r.Redis.State = ReplicaOf(Other); break;
        }

        r.Tick();

        Assert.Equal(TimeSpan.FromSeconds(1), r.Worker.NextInterval);
    }

    [Fact]
    public void NextInterval_SteadyReplica_TwiceTheInterval_ButNotWithItsLinkDown()
    {
        var r = SteadyRig();
        r.Kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels("redis-role", "replica") });
        r.Sentinels.SetAll(Other, 1);
        r.Redis.State = ReplicaOf(Other);
        r.Tick();
        Assert.Equal(TimeSpan.FromSeconds(2), r.Worker.NextInterval);

        r.Redis.State = r.Redis.State with { LinkUp = false };
        r.Tick();

        Assert.Equal(TimeSpan.FromSeconds(1), r.Worker.NextInterval);
    }

    [Theory]
    [InlineData(1000, 5000, 2000)]
    [InlineData(1000, 1000, 1000)]   // never longer than half the grace, never shorter than the interval
    [InlineData(200, 5000, 400)]
    [InlineData(1000, 3000, 1500)]
    public void SteadyInterval_TwiceTheIntervalWithinHalfTheGrace(int tickMs, int graceMs, int expectedMs)
    {
        var s = SidecarSettingsBuilder.Valid(0, o => { o.ReconcileIntervalMs = tickMs.ToString(System.Globalization.CultureInfo.InvariantCulture); o.SentinelLossGraceMs = graceMs.ToString(System.Globalization.CultureInfo.InvariantCulture); });

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), ReconcileWorker.SteadyInterval(s));
    }

    [Fact]
    public void RunOnceAsync_NoSentinelAnswers_NoIntentChangeNotReady()
    {
        rig.Tick();

        Assert.Equal(new PodIntent(RoleLabel.Keep, false, "waiting for a Sentinel view"), Intent);
        Assert.False(rig.Worker.Ready);
        Assert.Equal(0, rig.Metrics.SentinelsReachable);
    }

    [Fact]
    public void RunOnceAsync_HealthyReplica_ReplicaReadyAndLastLocalKept()
    {
        BecomeReplica();

        Assert.Equal(new PodIntent(RoleLabel.Replica, true, $"master is {Other}; replica link up"), Intent);
        Assert.Equal(LocalRole.Replica, rig.Worker.LastLocal!.Role);
    }

    [Fact]
    public void RunOnceAsync_ReplicaBeingPromoted_KeepsReadinessThroughout()
    {
        BecomeReplica();

        // Sentinel promotes this pod: its Redis is master while the Sentinels still name redis-1 (failover in progress).
        rig.Redis.State = MasterWithReplica();
        rig.Sentinels.Update(0, s => s with { FailoverInProgress = true });
        for (var i = 0; i < 5; i++)
        {
            rig.Tick();
            Assert.True(rig.Worker.Ready, $"tick {i}: a replica being promoted lost readiness");
            Assert.Equal(RoleLabel.Replica, Intent!.Label);
            rig.Clock.Advance(TimeSpan.FromMilliseconds(500));
        }

        rig.Sentinels.SetAll(Me, 2);
        rig.Tick();

        Assert.True(rig.Worker.Ready);
        Assert.Equal(new PodIntent(RoleLabel.Master, true, "sentinels name this pod master (epoch 2, poll) and local Redis is master"), Intent);
    }

    [Fact]
    public void RunOnceAsync_ReplicaLinkDownPastTheThreshold_NotReady()
    {
        BecomeReplica();
        rig.Redis.State = ReplicaOf(Other, linkUp: false);

        rig.Tick();
        Assert.True(rig.Worker.Ready);
        rig.Clock.Advance(rig.Settings.ReplicaNotReadyAfter);
        rig.Tick();

        Assert.False(rig.Worker.Ready);
        Assert.Equal(new PodIntent(RoleLabel.Replica, false, $"master is {Other}; local Redis is a replica with its link down"), Intent);
        Assert.False(rig.Metrics.Ready);
    }

    [Fact]
    public void RunOnceAsync_LabelledMasterDemoted_NotReadyAtOnce()
    {
        rig.BecomeMaster();
        rig.Sentinels.SetAll(Other, 2);

        rig.Tick();

        Assert.False(rig.Worker.Ready);
        Assert.Equal(RoleLabel.Replica, Intent!.Label);
        Assert.False(Intent.Ready);
        Assert.Equal(1, rig.Metrics.FailoversObserved.Value); // the polled master changed
    }

    [Fact]
    public void RunOnceAsync_HandoverActive_ReplicaAndNotReadyAtOnce()
    {
        rig.BecomeMaster();
        rig.Worker.HandoverActive = () => true;

        rig.Tick();

        Assert.False(rig.Worker.Ready);
        Assert.Equal(new PodIntent(RoleLabel.Replica, false, "planned handover in progress"), Intent);
    }

    [Fact]
    public void RunOnceAsync_HandoverActiveOnAMasterNotLabelledYet_NotReadyAtOnce()
    {
        // The API was down when this pod became master: its label is still replica, /readyz is the only way out.
        rig.Kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels("redis-role", "replica") });
        rig.BecomeMaster();
        rig.Worker.HandoverActive = () => true;

        rig.Tick();

        Assert.False(rig.Worker.Ready);
    }

    [Fact]
    public void RunOnceAsync_IsolatedMaster_NotReadyAtOnceAfterTheGrace()
    {
        rig.BecomeMaster();
        rig.Sentinels.SetAll(Me, 1);
        for (var i = 0; i < 3; i++) rig.Sentinels[i] = FakeSentinel.Unreachable();

        rig.Clock.Advance(rig.Settings.SentinelLossGrace);
        rig.Tick();
        Assert.True(rig.Worker.Ready); // exactly the grace: not lost yet
        rig.Clock.Advance(TimeSpan.FromMilliseconds(1));
        rig.Tick();

        Assert.False(rig.Worker.Ready);
        Assert.True(rig.Metrics.SentinelMajorityLost);
        Assert.Equal(RoleLabel.Replica, Intent!.Label);
    }

    [Fact]
    public void RunOnceAsync_IsolatedMasterWithoutReplicas_FencedThenLiftedWhenTheMajorityReturns()
    {
        rig.BecomeMaster();
        rig.Tick();
        Assert.Equal(1, rig.Journal.CountStarting("redis.config-get"));       // a fence an earlier run left is looked for once
        Assert.Equal(0, rig.Journal.CountStarting("redis.quorum"));
        for (var i = 0; i < 3; i++) rig.Sentinels[i] = FakeSentinel.Unreachable();
        rig.Redis.State = LonelyMaster();                               // its replicas are on the other side too

        rig.Clock.Advance(rig.Settings.SentinelLossGrace + TimeSpan.FromMilliseconds(1));
        rig.Tick();
        rig.Tick();

        Assert.Equal((2, 1), (rig.Redis.MinReplicasToWrite, rig.Redis.MinReplicasMaxLag)); // every replica, lag <= 1 s
        Assert.Equal(1, rig.Journal.CountStarting("redis.quorum"));            // applied once, not every tick
        Assert.True(rig.Metrics.Fenced);
        Assert.False(rig.Worker.Ready);
        Assert.Contains(rig.Pods.Events, e => e.Reason == "Fenced" && e.Type == "Warning");

        rig.Sentinels.SetAll(Me, 1);
        rig.Tick();

        Assert.Equal((0, 10), (rig.Redis.MinReplicasToWrite, rig.Redis.MinReplicasMaxLag)); // the configured (unset) values
        Assert.False(rig.Metrics.Fenced);
        Assert.True(rig.Worker.Ready);
        Assert.Contains(rig.Pods.Events, e => e.Reason == "Unfenced");
    }

    [Fact]
    public void RunOnceAsync_SentinelsGoneButReplicasInSync_NoFenceWritesGoOn()
    {
        rig.BecomeMaster();
        rig.Redis.State = new LocalRedisState(LocalRole.Master, Offset: 100,
            Replicas: [new ReplicaLink(Other, "online", 100, 0), new ReplicaLink(Third, "online", 100, 1)]);
        for (var i = 0; i < 3; i++) rig.Sentinels[i] = FakeSentinel.Unreachable();

        rig.Clock.Advance(rig.Settings.SentinelLossGrace + TimeSpan.FromSeconds(1));
        rig.Tick();

        Assert.False(rig.Metrics.Fenced);
        Assert.Equal(0, rig.Journal.CountStarting("redis.quorum"));
        Assert.False(rig.Worker.Ready); // still out of the Service: no majority names it
    }

    [Fact]
    public void RunOnceAsync_DemotionStalledByTheApi_ClientsKilledOnceAfterThreeSeconds()
    {
        // The applier is not running here: the label never leaves this pod.
        rig.BecomeMaster();
        rig.Sentinels.SetAll(Other, 2);

        rig.Tick();
        rig.Clock.Advance(TimeSpan.FromMilliseconds(2900));
        rig.Tick();
        Assert.Equal(0, rig.Journal.Count("redis.kill"));
        rig.Clock.Advance(TimeSpan.FromMilliseconds(100));
        rig.Tick();
        rig.Clock.Advance(TimeSpan.FromSeconds(5));
        rig.Tick();

        Assert.Equal(1, rig.Journal.Count("redis.kill"));
    }

    [Fact]
    public async Task OnDemoted_LabelLeftThisPod_ClientsKilledOnceNotDuringAHandover()
    {
        rig.BecomeMaster();

        await rig.Applier.OnDemoted!(CancellationToken.None);
        await rig.Applier.OnDemoted!(CancellationToken.None);
        Assert.Equal(1, rig.Journal.Count("redis.kill"));

        var other = new SidecarRig();
        other.BecomeMaster();
        other.Worker.HandoverActive = () => true;
        await other.Applier.OnDemoted!(CancellationToken.None);
        Assert.Equal(0, other.Journal.Count("redis.kill")); // the handover disconnects clients itself, after the unpause
    }

    [Fact]
    public void OnDemoted_KillFails_Logged()
    {
        rig.BecomeMaster();
        rig.Redis.Fails = command => command == "kill" ? "connection reset" : null;

        var demoted = rig.Applier.OnDemoted!(CancellationToken.None);

        Assert.True(demoted.IsCompletedSuccessfully);
    }

    [Fact]
    public void RunOnceAsync_ReplicaOfAnOutdatedRevision_PriorityWorseThenRestored()
    {
        rig.Kube.Update(f => f with { UpdateRevision = "rev-2" }); // this pod runs rev-1
        BecomeReplica();
        Assert.Equal(["redis.priority 200"], rig.Journal.Starting("redis.priority"));
        Assert.Equal(200, rig.Redis.State.ReplicaPriority);

        rig.Tick();
        Assert.Single(rig.Journal.Starting("redis.priority")); // set once, not every tick

        rig.Kube.UpdateOwn(p => p with { RevisionHash = "rev-2" });
        rig.Tick();

        Assert.Equal(["redis.priority 200", "redis.priority 100"], rig.Journal.Starting("redis.priority"));
        Assert.Equal(100, rig.Redis.State.ReplicaPriority);
    }

    [Fact]
    public void RunOnceAsync_PriorityChosenByTheTemplate_LeftAlone()
    {
        rig.Kube.Update(f => f with { UpdateRevision = "rev-2" });
        rig.Redis.State = ReplicaOf(Other, priority: 0);
        rig.Sentinels.SetAll(Other, 1);

        rig.Tick();

        Assert.Empty(rig.Journal.Starting("redis.priority"));
    }

    [Fact]
    public void RunOnceAsync_MasterOfAnOutdatedRevision_PriorityNotTouched()
    {
        rig.Kube.Update(f => f with { UpdateRevision = "rev-2" });

        rig.BecomeMaster();

        Assert.Empty(rig.Journal.Starting("redis.priority"));
    }

    [Fact]
    public void RunOnceAsync_SettingPriorityFails_TickCompletesAndTriesAgain()
    {
        rig.Kube.Update(f => f with { UpdateRevision = "rev-2" });
        rig.Redis.Fails = command => command == "priority" ? "timed out" : null;

        BecomeReplica();
        rig.Tick();

        Assert.Equal(2, rig.Journal.CountStarting("redis.priority"));
    }

    [Fact]
    public async Task OnSignalAsync_NewerEpoch_ViewMovesAndTheLabelChangeIsTimed()
    {
        BecomeReplica(epoch: 1);
        var received = rig.Clock.GetTimestamp();
        rig.Clock.Advance(TimeSpan.FromMilliseconds(30));

        await rig.Worker.OnSignalAsync(new FailoverSignal(Sentinels[2], "+promoted-slave", Me, 2, received));
        rig.Redis.State = MasterWithReplica();
        rig.Tick();

        Assert.Equal(Me, rig.Worker.Tracker.Current.Master);
        Assert.Equal("+promoted-slave", rig.Worker.Tracker.Current.Source); // the Sentinels still name redis-1 at epoch 1
        Assert.Equal(RoleLabel.Master, Intent!.Label);
        Assert.Equal(1, rig.Metrics.FailoversObserved.Value);

        using var stop = new CancellationTokenSource();
        var applier = rig.Applier.RunAsync(stop.Token);
        Eventually.Holds(() => rig.Journal.Count("api.label master") == 1, "the label moved");
        Eventually.Holds(() => rig.Metrics.Render().Contains("redis_sidecar_event_to_label_seconds_count 1\n", StringComparison.Ordinal), "the latency observed");
        Assert.Contains("redis_sidecar_event_to_label_seconds_sum 0.03\n", rig.Metrics.Render());
        await stop.CancelAsync();
        await applier.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [Fact]
    public async Task RunOnceAsync_AfterANewerSignal_DecidesBeforeTheSlowestSentinelAnswers()
    {
        BecomeReplica(epoch: 1);
        var slowSentinel = new TaskCompletionSource();
        rig.Sentinels.PollHeldUntil = slowSentinel.Task;

        await rig.Worker.OnSignalAsync(new FailoverSignal(Sentinels[2], "+promoted-slave", Me, 2, rig.Clock.GetTimestamp()));
        rig.Redis.State = MasterWithReplica();
        var tick = rig.Worker.RunOnceAsync(CancellationToken.None);

        Eventually.Holds(() => Intent?.Label == RoleLabel.Master, "the promoted pod decided on the signal and its local Redis");
        Assert.False(tick.IsCompleted);
        slowSentinel.SetResult();
        await tick;
        Assert.Equal(RoleLabel.Master, Intent!.Label); // the poll (the Sentinels still name redis-1 at epoch 1) does not undo it
        Assert.Equal(Me, rig.Worker.Tracker.Current.Master);
    }

    [Fact]
    public async Task OnPromotionStarted_ThisMasterReplaced_StepsDownBeforeAnyPollAndBackIfTheFailoverAborts()
    {
        rig.BecomeMaster(epoch: 1);
        Assert.Equal(RoleLabel.Master, Intent!.Label);
        var slowSentinel = new TaskCompletionSource();
        rig.Sentinels.PollHeldUntil = slowSentinel.Task;
        rig.Sentinels.Update(2, s => s with { FailoverInProgress = true });

        rig.Worker.OnPromotionStarted(new PromotionStarted(Sentinels[2], Me, Other));
        var tick = rig.Worker.RunOnceAsync(CancellationToken.None);

        Eventually.Holds(() => Intent?.Label == RoleLabel.Replica && !Intent.Ready, "stepped down on the event");
        Assert.False(rig.Worker.Ready);
        slowSentinel.SetResult();
        await tick;
        Assert.Equal(RoleLabel.Replica, Intent!.Label); // the leader still fails over

        rig.Sentinels.Abort(2);
        rig.Tick();

        Assert.Equal(RoleLabel.Master, Intent!.Label);
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public void OnPromotionStarted_OfAnotherMaster_ChangesNothing()
    {
        BecomeReplica(epoch: 1);
        var before = Intent;

        rig.Worker.OnPromotionStarted(new PromotionStarted(Sentinels[2], Third, Me));
        rig.Tick();

        Assert.Equal(before, Intent);
        Assert.Null(rig.Worker.Tracker.Current.Promoting);
    }

    [Fact]
    public async Task RunOnceAsync_NoSignal_WaitsForThePollBeforeDeciding()
    {
        BecomeReplica(epoch: 1);
        var before = Intent;
        var slowSentinel = new TaskCompletionSource();
        rig.Sentinels.PollHeldUntil = slowSentinel.Task;
        rig.Sentinels.SetAll(Me, 2);
        rig.Redis.State = MasterWithReplica();

        var tick = rig.Worker.RunOnceAsync(CancellationToken.None);
        await Task.Delay(50);

        Assert.Same(before, Intent);
        slowSentinel.SetResult();
        await tick;
        Assert.Equal(RoleLabel.Master, Intent!.Label);
    }

    [Fact]
    public async Task OnSignalAsync_OlderEpoch_Ignored()
    {
        rig.BecomeMaster(epoch: 3);

        await rig.Worker.OnSignalAsync(new FailoverSignal(Sentinels[1], "+switch-master", Other, 2, rig.Clock.GetTimestamp()));
        rig.Tick();

        Assert.Equal(Me, rig.Worker.Tracker.Current.Master);
        Assert.Equal(0, rig.Metrics.FailoversObserved.Value);
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public void Alive_NoTickForLongerThanTheLivenessTimeout_False()
    {
        rig.Tick();
        rig.Clock.Advance(rig.Settings.LivenessTimeout - TimeSpan.FromMilliseconds(1));
        Assert.True(rig.Worker.Alive);

        rig.Clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(rig.Worker.Alive);
        rig.Tick();
        Assert.True(rig.Worker.Alive);
    }

    [Fact]
    public async Task RunAsync_ApiHangs_TicksGoOnAliveAndReadinessAnswers()
    {
        using var stop = new CancellationTokenSource();
        rig.BecomeMaster();
        rig.Pods.Before = (_, ct) => FakePodClient.Hang(ct);
        var applier = rig.Applier.RunAsync(stop.Token);
        Eventually.Holds(() => rig.Kube.Waits == 1, "the applier waits (nothing to write yet)");
        var loop = rig.Worker.RunAsync(stop.Token);
        Eventually.Holds(() => rig.Kube.Waits == 2, "the first tick done");

        rig.Sentinels.SetAll(Other, 2); // demoted: the applier's first write hangs
        for (var i = 0; i < 6; i++)
        {
            var waits = rig.Kube.Waits;
            rig.Clock.Advance(rig.Settings.LivenessTimeout / 2);
            rig.Worker.Wake();
            Eventually.Holds(() => rig.Kube.Waits > waits, $"tick {i} done"); // the loop waits again once a tick completed
            Assert.True(rig.Worker.Alive, $"tick {i}: not alive while the API hangs");
            Assert.False(rig.Worker.Ready);
        }

        Assert.Equal(["api.condition False", "api.label replica"], rig.Journal.Starting("api.")); // the demotion's two writes, still hanging
        Assert.Equal(1, rig.Journal.Count("redis.kill"));                     // clients go anyway, 3 s after the demotion
        Assert.False(loop.IsCompleted);
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
        await applier.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [Fact]
    public async Task RunAsync_WatchChange_TicksAtOnce()
    {
        using var stop = new CancellationTokenSource();
        var loop = rig.Worker.RunAsync(stop.Token);
        Eventually.Holds(() => rig.Sentinels.Polls == 1 && rig.Kube.Waits == 1, "first tick");

        rig.Kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels("redis-role", "bogus") });

        Eventually.Holds(() => rig.Sentinels.Polls == 2, "a tick after the watch changed");
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task RunAsync_Cancelled_EndsWithoutFault()
    {
        using var stop = new CancellationTokenSource();
        var loop = rig.Worker.RunAsync(stop.Token);
        Eventually.Holds(() => rig.Sentinels.Polls >= 1, "first tick");

        await stop.CancelAsync();

        await loop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(loop.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task RunAsync_SentinelFakeThrows_LoopFaultsNotSwallowed()
    {
        // The real watcher turns every fault into an answer: an exception here is a bug, and it must end the loop
        // (the program then exits 1 and Kubernetes restarts the container).
        using var stop = new CancellationTokenSource();
        var loop = rig.Worker.RunAsync(stop.Token);
        Eventually.Holds(() => rig.Sentinels.Polls >= 1, "first tick");

        rig.Sentinels.PollThrows = new InvalidOperationException("a bug");
        rig.Worker.Wake();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => loop.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("a bug", e.Message);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task RunAsync_LocalFakeThrowsOnTheFirstTick_LoopFaults()
    {
        rig.Redis.ReadThrows = new NullReferenceException();

        await Assert.ThrowsAsync<NullReferenceException>(() => rig.Worker.RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task RunAsync_OperationCanceledNotFromShutdown_LoopEnds()
    {
        // A timeout surfacing as OperationCanceledException is not a shutdown: it ends the loop too (as cancelled, which
        // the program treats like any other end of a background loop: exit 1).
        rig.Sentinels.PollThrows = new OperationCanceledException("an inner timeout");

        var loop = rig.Worker.RunAsync(CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(loop.IsCompletedSuccessfully);
    }
}
