using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Roles;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;
using RedisSidecars.UnitTests.Core;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ReconcileWorkerTests
{
    static long HistogramCount(SidecarMetrics m) => long.Parse(
        m.Render().Split('\n').Single(l => l.StartsWith("redis_sidecar_event_to_label_seconds_count ", StringComparison.Ordinal)).Split(' ')[1],
        CultureInfo.InvariantCulture);

    static SwitchEvent Switch(WorkerRig rig, NodeAddress master, long epoch) =>
        new(Sentinels[0], master, epoch, rig.Clock.GetTimestamp());

    // ---- no view yet ----

    [Fact]
    public async Task RunOnce_NoSentinelView_NoLabelPatchAndNotReady()
    {
        var rig = new WorkerRig();
        rig.Pod.Label = "master"; // whatever the pod carries, nothing is changed without a view
        rig.Redis.State = LocalMaster();

        await rig.TickAsync();
        await rig.TickAsync();

        Assert.False(rig.Worker.Ready);
        Assert.DoesNotContain(rig.Journal.All, c => c.StartsWith("pod.label", StringComparison.Ordinal));
        Assert.DoesNotContain("redis.kill", rig.Journal.All);
        Assert.Equal("master", rig.Pod.Label);
        Assert.Equal(1, rig.Journal.Count("pod.condition False")); // once, then the condition already says False
        Assert.False(rig.Metrics.Ready);
    }

    [Theory]
    [InlineData(true, null, 1)]   // gate declared, no condition yet: written
    [InlineData(true, true, 1)]   // gate declared, condition True: written
    [InlineData(true, false, 0)]  // already False: not written again
    [InlineData(false, null, 0)]  // no gate: never written
    [InlineData(false, true, 0)]
    public async Task RunOnce_NoSentinelView_ConditionFalseOnlyWhenGateDeclaredAndNotFalse(bool declares, bool? condition, int expectedPatches)
    {
        var rig = new WorkerRig();
        rig.Pod.DeclaresReadinessGate = declares;
        rig.Pod.ConditionTrue = condition;

        await rig.TickAsync();

        Assert.Equal(expectedPatches, rig.Journal.Count("pod.condition False"));
        Assert.DoesNotContain("pod.condition True", rig.Journal.All);
        Assert.False(rig.Worker.Ready);
    }

    // ---- write on change ----

    [Fact]
    public async Task RunOnce_MasterOnEveryTick_LabelPatchedOnce()
    {
        var rig = new WorkerRig();
        rig.Sentinels.Answers = () => AllSay(Me, 1);
        rig.Redis.State = LocalMaster();

        for (var i = 0; i < 4; i++) await rig.TickAsync();

        Assert.Equal(1, rig.Journal.Count("pod.label master"));
        Assert.Equal(1, rig.Journal.Count("pod.condition True"));
        Assert.Equal(1, rig.Pod.Events.Count(e => e.Reason == "RoleChanged"));
        Assert.Equal("master", rig.Pod.Label);
        Assert.Equal("master", rig.Worker.AppliedLabel);
        Assert.True(rig.Worker.Ready);
        Assert.Contains("redis_sidecar_role 2\n", rig.Metrics.Render());
        Assert.DoesNotContain("redis.kill", rig.Journal.All);
    }

    [Fact]
    public async Task RunOnce_PromotionOrder_LabelBeforeReadiness()
    {
        var rig = new WorkerRig();
        rig.Sentinels.Answers = () => AllSay(Me, 1);
        rig.Redis.State = LocalMaster();

        await rig.TickAsync();

        rig.Journal.AssertSubsequence("pod.label master", "pod.condition True");
        Assert.True(rig.Journal.IndexOf("pod.label master") < rig.Journal.IndexOf("pod.condition True"));
    }

    [Theory]
    [InlineData("replica")]
    [InlineData(null)]
    [InlineData("something-else")]
    public async Task RunOnce_LabelChangedBehindItsBack_Repaired(string? handEdit)
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync();

        rig.Pod.Label = handEdit;
        await rig.TickAsync();
        await rig.TickAsync();

        Assert.Equal(2, rig.Journal.Count("pod.label master"));
        Assert.Equal("master", rig.Pod.Label);
        Assert.DoesNotContain("redis.kill", rig.Journal.All); // the pod is still master: nobody to disconnect
    }

    [Fact]
    public async Task RunOnce_ConditionChangedBehindItsBack_Repaired()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync();

        rig.Pod.ConditionTrue = false;
        await rig.TickAsync();

        Assert.Equal(2, rig.Journal.Count("pod.condition True"));
        Assert.Equal(1, rig.Journal.Count("pod.label master"));
    }

    [Fact]
    public async Task RunOnce_HealthyReplicaUnlabelled_LabelledReplicaReadyNoKill()
    {
        var rig = new WorkerRig();
        rig.Sentinels.Answers = () => AllSay(Other, 1);
        rig.Redis.State = ReplicaOf(Other);

        await rig.TickAsync();
        await rig.TickAsync();

        Assert.Equal(["pod.condition True", "pod.label replica", "pod.event Normal RoleChanged"], rig.Journal.Writes);
        Assert.True(rig.Worker.Ready);
        Assert.Contains("redis_sidecar_role 1\n", rig.Metrics.Render());
    }

    [Fact]
    public async Task RunOnce_ReplicaLabelValueEmpty_ReplicaLabelRemovedOnDemotion()
    {
        var rig = new WorkerRig(o => o.ReplicaPodLabelValue = "");
        await rig.BecomeMasterAsync(1);

        rig.Sentinels.Answers = () => AllSay(Other, 2);
        rig.Redis.State = ReplicaOf(Other);
        await rig.TickAsync();
        await rig.TickAsync();

        Assert.Null(rig.Pod.Label);
        Assert.Equal(1, rig.Journal.Count("pod.label (none)"));
        Assert.Equal(1, rig.Journal.Count("redis.kill"));
    }

    [Fact]
    public async Task RunOnce_ReplicaLabelValueEmptyAndPodUnlabelled_NoPatch()
    {
        var rig = new WorkerRig(o => o.ReplicaPodLabelValue = "");
        rig.Sentinels.Answers = () => AllSay(Other, 1);
        rig.Redis.State = ReplicaOf(Other);

        await rig.TickAsync();

        Assert.DoesNotContain(rig.Journal.All, c => c.StartsWith("pod.label", StringComparison.Ordinal));
        Assert.True(rig.Worker.Ready);
    }

    // ---- demotion order ----

    [Fact]
    public async Task RunOnce_Demotion_ReadinessThenLabelThenClientKill()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync(1);
        var before = rig.Journal.All.Count;

        // Sentinels failed over to redis-1; the local Redis has not been converted yet (an old master).
        rig.Sentinels.Answers = () => AllSay(Other, 2);
        await rig.TickAsync();

        var writes = rig.Journal.All.Skip(before).Where(c => !c.StartsWith("read", StringComparison.Ordinal) && c != "sentinel.poll").ToArray();
        Assert.Equal(["pod.condition False", "pod.label replica", "pod.event Normal RoleChanged", "redis.kill"], writes);
        Assert.False(rig.Worker.Ready);
        Assert.Equal("replica", rig.Pod.Label);
    }

    [Fact]
    public async Task RunOnce_DemotionWithoutGate_ReadyFalseBeforeLabelPatch()
    {
        var rig = new WorkerRig();
        rig.Pod.DeclaresReadinessGate = false;
        await rig.BecomeMasterAsync(1);
        bool? readyAtPatch = null;
        rig.Pod.OnSetLabel = _ => readyAtPatch = rig.Worker.Ready;

        rig.Sentinels.Answers = () => AllSay(Other, 2);
        await rig.TickAsync();

        Assert.False(readyAtPatch); // /readyz already said no when the label went
        rig.Journal.AssertSubsequence("pod.label replica", "redis.kill");
    }

    [Fact]
    public async Task RunOnce_Demotion_OrderSeenByNSubstitute()
    {
        var settings = SidecarSettingsBuilder.Valid(0);
        var pods = Substitute.For<IPodWriter>();
        var local = Substitute.For<ILocalRedis>();
        var sentinels = Substitute.For<ISentinelWatcher>();
        pods.ReadOwnPodAsync(Arg.Any<CancellationToken>())
            .Returns(new PodSnapshot(new Dictionary<string, string> { ["redis-role"] = "master" }, true, true, "uid"));
        local.ReadStateAsync(Arg.Any<CancellationToken>()).Returns(LocalMaster());
        sentinels.PollAsync(Arg.Any<CancellationToken>()).Returns(AllSay(Other, 2));
        var worker = new ReconcileWorker(settings, sentinels, local, pods, new SidecarMetrics(), NullLogger.Instance, new FakeTimeProvider());

        await worker.RunOnceAsync(CancellationToken.None);

        Received.InOrder(() =>
        {
            pods.SetReadinessConditionAsync(false, Arg.Any<string>(), Arg.Any<string>(), Arg.Any<CancellationToken>());
            pods.SetRoleLabelAsync("replica", Arg.Any<CancellationToken>());
            local.KillNormalClientsAsync(Arg.Any<CancellationToken>());
        });
        await pods.DidNotReceive().ReadPeerLabelAsync(Arg.Any<string>(), Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task RunOnce_ReplicaStaysReplica_NoClientKill()
    {
        var rig = new WorkerRig();
        rig.Pod.Label = "replica";
        rig.Sentinels.Answers = () => AllSay(Other, 1);
        rig.Redis.State = ReplicaOf(Other, linkUp: false);

        await rig.TickAsync();
        rig.Redis.State = ReplicaOf(Other);
        await rig.TickAsync();

        Assert.DoesNotContain("redis.kill", rig.Journal.All);
        Assert.DoesNotContain(rig.Journal.All, c => c.StartsWith("pod.label", StringComparison.Ordinal));
        Assert.True(rig.Worker.Ready);
        rig.Journal.AssertSubsequence("pod.condition False", "pod.condition True");
    }

    // ---- promotion waits for the previous master's pod ----

    [Fact]
    public async Task RunOnce_PeerStillLabelledMaster_WaitsUntilItDropsTheLabel()
    {
        var clock = new SteppingClock();
        var rig = new WorkerRig(o => o.MasterLabelWaitMs = "5000", clock);
        rig.Sentinels.Answers = () => AllSay(Me, 2);
        rig.Redis.State = LocalMaster();
        rig.Pod.PeerLabel = (pod, read) => pod == "redis-1" && read < 4 ? "master" : "replica";
        var start = clock.GetUtcNow();

        await clock.RunAsync(async () => { await rig.Worker.RunOnceAsync(CancellationToken.None); return true; });

        Assert.Equal("master", rig.Pod.Label);
        Assert.Equal(5, rig.Journal.Count("read.peer redis-1=master") + rig.Journal.Count("read.peer redis-1=replica"));
        rig.Journal.AssertSubsequence("read.peer redis-1=replica", "pod.label master");
        Assert.True(rig.Journal.LastIndexOf("read.peer redis-1=master") < rig.Journal.IndexOf("pod.label master"));
        Assert.DoesNotContain(rig.Pod.Events, e => e.Type == "Warning");
        Assert.Equal(TimeSpan.FromMilliseconds(200), clock.Elapsed(start)); // four 50 ms waits
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public async Task RunOnce_PeerNeverDropsTheLabel_ProceedsAfterWaitWithWarningEvent()
    {
        var clock = new SteppingClock();
        var rig = new WorkerRig(o => o.MasterLabelWaitMs = "1000", clock);
        rig.Sentinels.Answers = () => AllSay(Me, 2);
        rig.Redis.State = LocalMaster();
        rig.Pod.PeerLabel = (pod, _) => pod == "redis-2" ? "master" : null;
        var start = clock.GetUtcNow();

        await clock.RunAsync(async () => { await rig.Worker.RunOnceAsync(CancellationToken.None); return true; });

        var waited = clock.Elapsed(start);
        Assert.InRange(waited, TimeSpan.FromMilliseconds(1000), TimeSpan.FromMilliseconds(1050));
        var warning = Assert.Single(rig.Pod.Events, e => e.Type == "Warning");
        Assert.Equal("PreviousMasterStillLabelled", warning.Reason);
        Assert.Contains("redis-2", warning.Message);
        rig.Journal.AssertSubsequence("pod.event Warning PreviousMasterStillLabelled", "pod.label master", "pod.condition True");
        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public async Task RunOnce_PeerLabelledAndWaitZero_ProceedsAtOnceWithWarning()
    {
        var rig = new WorkerRig(o => o.MasterLabelWaitMs = "0");
        rig.Sentinels.Answers = () => AllSay(Me, 2);
        rig.Redis.State = LocalMaster();
        rig.Pod.PeerLabel = (pod, _) => pod == "redis-1" ? "master" : null;

        await rig.TickAsync(); // must not wait on the (never advanced) clock

        Assert.Equal("master", rig.Pod.Label);
        Assert.Contains(rig.Pod.Events, e => e.Reason == "PreviousMasterStillLabelled");
    }

    [Fact]
    public async Task RunOnce_PromotionPeerReads_OnlyPeersNotSelf()
    {
        var rig = new WorkerRig();
        rig.Sentinels.Answers = () => AllSay(Me, 2);
        rig.Redis.State = LocalMaster();

        await rig.TickAsync();

        var peers = rig.Journal.All.Where(c => c.StartsWith("read.peer", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["read.peer redis-1=(none)", "read.peer redis-2=(none)"], peers);
    }

    // ---- readiness gate not declared ----

    [Fact]
    public async Task RunOnce_NoReadinessGate_ConditionNeverWrittenButReadyFollowsDecision()
    {
        var rig = new WorkerRig();
        rig.Pod.DeclaresReadinessGate = false;

        await rig.TickAsync();
        Assert.False(rig.Worker.Ready);

        rig.Sentinels.Answers = () => AllSay(Me, 1);
        rig.Redis.State = LocalMaster();
        await rig.TickAsync();
        Assert.True(rig.Worker.Ready);
        Assert.True(rig.Metrics.Ready);

        rig.Sentinels.Answers = () => AllSay(Other, 2);
        await rig.TickAsync();
        Assert.False(rig.Worker.Ready);

        Assert.DoesNotContain(rig.Journal.All, c => c.StartsWith("pod.condition", StringComparison.Ordinal));
    }

    // ---- planned handover ----

    [Fact]
    public async Task RunOnce_HandoverActive_ReplicaNotReadyUntilCleared()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync();

        rig.Worker.HandoverActive = true;
        await rig.TickAsync();

        Assert.Equal("replica", rig.Pod.Label);
        Assert.False(rig.Worker.Ready);
        Assert.False(rig.Pod.ConditionTrue);

        rig.Worker.HandoverActive = false;
        await rig.TickAsync();

        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
    }

    // ---- events ----

    [Fact]
    public async Task OnSwitch_NewerEpoch_DecidesNextTickDespiteOldPolls()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync(3);

        await rig.Worker.OnSwitchAsync(Switch(rig, Other, 4));
        await rig.TickAsync(); // polls still name redis-0 at epoch 3

        Assert.Equal("replica", rig.Pod.Label);
        Assert.False(rig.Worker.Ready);
        Assert.Equal(Other, rig.Worker.Tracker.Current.Master);
        Assert.Equal(1, rig.Metrics.FailoversObserved.Value);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(2)]
    public async Task OnSwitch_EqualOrOlderEpoch_NoChange(long epoch)
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync(3);

        await rig.Worker.OnSwitchAsync(Switch(rig, Other, epoch));
        await rig.TickAsync();

        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
        Assert.Equal(0, rig.Metrics.FailoversObserved.Value);
    }

    [Fact]
    public async Task RunOnce_PolledMasterChanges_FailoverCounted()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync(1);

        rig.Sentinels.Answers = () => AllSay(Other, 2);
        rig.Redis.State = ReplicaOf(Other);
        await rig.TickAsync();

        Assert.Equal(1, rig.Metrics.FailoversObserved.Value);
        Assert.Equal("replica", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
    }

    // ---- Sentinels lost ----

    [Fact]
    public async Task RunOnce_SentinelsUnreachableWithinGrace_MasterKept()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync();

        rig.Sentinels.Answers = NoneAnswer;
        rig.Clock.Advance(TimeSpan.FromSeconds(4));
        await rig.TickAsync();

        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
        Assert.Contains("redis_sidecar_sentinels_reachable 0\n", rig.Metrics.Render());
    }

    [Fact]
    public async Task RunOnce_SentinelsUnreachableBeyondGrace_MasterDemotedFailSafe()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync();

        rig.Sentinels.Answers = () => [Says(0, Me, 1), Down(1), Down(2)]; // a minority still answers
        rig.Clock.Advance(TimeSpan.FromSeconds(5.5));
        await rig.TickAsync();

        Assert.Equal("replica", rig.Pod.Label);
        Assert.False(rig.Worker.Ready);
        rig.Journal.AssertSubsequence("pod.condition False", "pod.label replica", "redis.kill");

        rig.Sentinels.Answers = () => AllSay(Me, 1);
        await rig.TickAsync();
        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
    }

    // ---- event-to-label latency ----

    [Fact]
    public async Task ObserveEventToLabel_SwitchThenOwnDemotion_CountOne()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync(1);
        Assert.Equal(0, HistogramCount(rig.Metrics));

        await rig.Worker.OnSwitchAsync(Switch(rig, Other, 2));
        rig.Clock.Advance(TimeSpan.FromMilliseconds(30));
        await rig.TickAsync();
        await rig.TickAsync();

        Assert.Equal(1, HistogramCount(rig.Metrics));
        var text = rig.Metrics.Render();
        Assert.Contains("redis_sidecar_event_to_label_seconds_bucket{le=\"0.025\"} 0\n", text);
        Assert.Contains("redis_sidecar_event_to_label_seconds_bucket{le=\"0.05\"} 1\n", text);
        Assert.Contains("redis_sidecar_event_to_label_seconds_sum 0.03\n", text);
    }

    [Fact]
    public async Task ObserveEventToLabel_PollWokenByAnEventSeesTheFailover_TimedFromThatEvent()
    {
        var rig = new WorkerRig();
        await rig.BecomeMasterAsync(1);

        rig.Worker.OnSentinelEvent();                       // e.g. +failover-end, before +switch-master is handled
        rig.Clock.Advance(TimeSpan.FromMilliseconds(40));
        rig.Sentinels.Answers = () => AllSay(Other, 2);     // the poll it woke sees the new master first
        await rig.TickAsync();

        Assert.Equal("replica", rig.Pod.Label);
        Assert.Equal(1, HistogramCount(rig.Metrics));
        Assert.Contains("redis_sidecar_event_to_label_seconds_sum 0.04\n", rig.Metrics.Render());
    }

    [Fact]
    public async Task ObserveEventToLabel_SwitchThenOwnPromotion_CountOne()
    {
        var rig = new WorkerRig();
        rig.Sentinels.Answers = () => AllSay(Other, 1);
        rig.Redis.State = ReplicaOf(Other);
        rig.Pod.PeerLabel = (_, _) => "replica"; // redis-1's sidecar already dropped its label
        await rig.TickAsync();
        Assert.Equal("replica", rig.Pod.Label);

        await rig.Worker.OnSwitchAsync(Switch(rig, Me, 2));
        rig.Redis.State = LocalMaster();
        await rig.TickAsync();

        Assert.Equal("master", rig.Pod.Label);
        Assert.Equal(1, HistogramCount(rig.Metrics));
    }

    [Fact]
    public async Task ObserveEventToLabel_SwitchButOwnLabelUnchanged_StaysZeroEvenAfterLaterPatch()
    {
        var rig = new WorkerRig();
        rig.Sentinels.Answers = () => AllSay(Other, 1);
        rig.Redis.State = ReplicaOf(Other);
        await rig.TickAsync();

        // redis-2 becomes master; this pod stays a replica (it is still replicating redis-1: not ready).
        await rig.Worker.OnSwitchAsync(Switch(rig, Third, 2));
        await rig.TickAsync();
        Assert.Equal("replica", rig.Pod.Label);
        Assert.False(rig.Worker.Ready);
        Assert.Equal(0, HistogramCount(rig.Metrics));

        // A later, unrelated patch (a hand edit repaired) is not timed against that old event.
        rig.Pod.Label = null;
        rig.Clock.Advance(TimeSpan.FromSeconds(3));
        await rig.TickAsync();
        Assert.Equal("replica", rig.Pod.Label);
        Assert.Equal(0, HistogramCount(rig.Metrics));
    }

    [Fact]
    public async Task Alive_TickRecentlyThenLongStall_TrueThenFalse()
    {
        var rig = new WorkerRig();
        await rig.TickAsync();
        Assert.True(rig.Worker.Alive);

        rig.Clock.Advance(TimeSpan.FromHours(1)); // far beyond any sensible staleness bound

        Assert.False(rig.Worker.Alive);
        await rig.TickAsync();
        Assert.True(rig.Worker.Alive);
    }

    [Fact]
    public async Task RunAsync_ApiErrorInOneTick_LoopKeepsGoing()
    {
        var rig = new WorkerRig(o => o.ReconcileIntervalMs = "100");
        var failing = new ThrowOnceSentinels(rig.Sentinels);
        var worker = new ReconcileWorker(rig.Settings, failing, rig.Redis, rig.Pod, rig.Metrics, NullLogger.Instance, TimeProvider.System);
        rig.Sentinels.Answers = () => AllSay(Me, 1);
        using var cts = new CancellationTokenSource();

        var loop = worker.RunAsync(cts.Token);
        worker.Wake();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (rig.Pod.Label != "master" && DateTime.UtcNow < deadline) await Task.Delay(10);
        await cts.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("master", rig.Pod.Label);
        Assert.True(failing.Threw);
    }

    /// <summary>Throws a <see cref="TimeoutException"/> on the first poll (a transient fault the loop must survive).</summary>
    sealed class ThrowOnceSentinels(FakeSentinelWatcher inner) : ISentinelWatcher
    {
        int calls;
        public bool Threw { get; private set; }
        public Task StartAsync(Func<SwitchEvent, Task> onSwitch, Action onOtherEvent, CancellationToken ct) => Task.CompletedTask;
        public Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct)
        {
            if (Interlocked.Increment(ref calls) == 1) { Threw = true; throw new TimeoutException("poll timed out"); }
            return inner.PollAsync(ct);
        }
        public Task<string?> FailoverAsync(CancellationToken ct) => inner.FailoverAsync(ct);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
