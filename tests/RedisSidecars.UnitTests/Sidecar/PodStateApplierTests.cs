using RedisSidecars.Core.Roles;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>
/// The applier running against the fake watch cache and API, on a fake clock. It runs on its own (as in the program),
/// so each test changes something and then waits until the applier waits again before it looks.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PodStateApplierTests : IAsyncLifetime
{
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(5); // MASTER_LABEL_WAIT_MS
    static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);
    readonly CancellationTokenSource stop = new();
    SidecarRig rig = null!;
    Task running = Task.CompletedTask;
    int demoted;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        await running.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(10));
        stop.Dispose();
    }

    void Start(KubeFacts facts, Action<SidecarRig>? setup = null)
    {
        rig = new SidecarRig(o => o.MasterLabelWaitMs = "5000", facts);
        rig.Applier.OnDemoted = _ =>
        {
            Interlocked.Increment(ref demoted);
            rig.Journal.Add("demoted");
            return Task.CompletedTask;
        };
        setup?.Invoke(rig);
        Settle(() => running = rig.Applier.RunAsync(stop.Token));
    }

    /// <summary>Runs <paramref name="change"/>, then waits until the applier waits again (<paramref name="timed"/>: on a timer too).</summary>
    void Settle(Action change, bool timed = false)
    {
        var waits = rig.Kube.Waits;
        var timers = rig.Clock.TimersCreated;
        change();
        Eventually.Holds(() => rig.Kube.Waits > waits && (!timed || rig.Clock.TimersCreated > timers) || running.IsFaulted,
            "the applier waits again", () => rig.Journal.ToString());
        if (running.IsFaulted) Assert.Fail("the applier failed: " + running.Exception);
    }

    void Publish(RoleLabel label, bool ready, bool timed = false) => Settle(() => rig.Applier.Publish(new PodIntent(label, ready, $"test: {label} {ready}")), timed);

    /// <summary>
    /// Advances the clock in steps. A step that fires one of the applier's timers waits until the applier waits again,
    /// and gives it a moment to arm its next timer (if it waits on one) before the clock moves on.
    /// </summary>
    void Advance(TimeSpan by)
    {
        for (var t = TimeSpan.Zero; t < by; t += Step)
        {
            var fired = rig.Clock.TimersFired;
            var waits = rig.Kube.Waits;
            var timers = rig.Clock.TimersCreated;
            rig.Clock.Advance(Step);
            if (rig.Clock.TimersFired == fired) continue;
            Eventually.Holds(() => rig.Kube.Waits > waits || running.IsCompleted, "the applier waits again", () => rig.Journal.ToString());
            SpinWait.SpinUntil(() => rig.Clock.TimersCreated > timers, TimeSpan.FromMilliseconds(50));
        }
    }

    IReadOnlyList<string> Writes => rig.Journal.All.Where(c => c.StartsWith("api.label", StringComparison.Ordinal) || c.StartsWith("api.condition", StringComparison.Ordinal) || c == "demoted").ToArray();

    [Fact]
    public void RunAsync_Promotion_LabelThenConditionAgainstTheCache()
    {
        Start(FakeKubeFacts.Set("replica", false));

        Publish(RoleLabel.Master, true);

        Assert.Equal(["api.label master", "api.condition True"], Writes);
        Assert.Equal("master", rig.Kube.Current.Own!.Labels["redis-role"]);
        Assert.True(rig.Kube.Current.Own.ConditionTrue);
        Assert.Equal(2, rig.Metrics.Role);
        var e = Assert.Single(rig.Pods.Events);
        Assert.Equal(("Normal", "RoleChanged"), (e.Type, e.Reason));
        Assert.Contains("replica -> master", e.Message);
    }

    [Fact]
    public void RunAsync_Demotion_ConditionThenLabelThenOnDemoted()
    {
        Start(FakeKubeFacts.Set("master", true));

        Publish(RoleLabel.Replica, false);

        Assert.Equal(["api.condition False", "api.label replica", "demoted"], Writes);
        Assert.Equal(1, demoted);
        Assert.Equal(1, rig.Metrics.Role);
    }

    [Fact]
    public void RunAsync_ReplicaToReplica_NoOnDemoted()
    {
        Start(FakeKubeFacts.Set(null, true));

        Publish(RoleLabel.Replica, true);

        Assert.Equal(["api.label replica"], Writes);
        Assert.Equal(0, demoted);
    }

    [Fact]
    public void RunAsync_AsDesired_NoWrites()
    {
        Start(FakeKubeFacts.Set("master", true));

        Publish(RoleLabel.Master, true);

        Assert.Empty(Writes);
        Assert.Empty(rig.Pods.Events);
    }

    [Fact]
    public void RunAsync_NotSyncedYet_WritesOnlyOnceSynced()
    {
        Start(FakeKubeFacts.Set("replica", false) with { Synced = false });
        Publish(RoleLabel.Master, true);
        Assert.Empty(Writes);

        Settle(() => rig.Kube.Update(f => f with { Synced = true }));

        Assert.Equal(["api.label master", "api.condition True"], Writes);
    }

    [Fact]
    public void RunAsync_PeerStillLabelled_WaitsUntilTheWatchShowsItGone()
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(Writes);

        Settle(() => rig.Kube.SetPeerLabel("redis-1", "replica"));

        Assert.Equal(["api.label master"], Writes);
        Assert.DoesNotContain(rig.Pods.Events, e => e.Type == "Warning");
    }

    [Fact]
    public void RunAsync_CacheShowsNoPeerLabelledButTheApiDoes_WaitsForItsLabelToGo()
    {
        // A silently dead watch (a blackholed connection, until its idle timeout) shows no peer labelled while one is:
        // the master label is taken only after a fresh read shows no peer carrying it.
        Start(FakeKubeFacts.Set("replica", true));
        rig.Pods.PeerLabelNow = name => name == "redis-1" ? "master" : "replica";
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromSeconds(3));
        Assert.Empty(Writes);
        Assert.True(rig.Journal.CountStarting("read.api.peer") >= 2, "expected fresh reads: " + rig.Journal);

        rig.Pods.PeerLabelNow = _ => "replica"; // the previous master's sidecar dropped its label
        Advance(TimeSpan.FromSeconds(2));

        Assert.Equal("api.label master", Writes.FirstOrDefault());
    }

    [Fact]
    public void RunAsync_WatchJustDeliveredThePreviousMastersLabelGone_LabelsWithoutAFreshRead()
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromSeconds(2));
        Assert.Empty(Writes);
        var readsWhileWaiting = rig.Journal.CountStarting("read.api.peer"); // the once-a-second reads of a wait

        // The event that shows the label gone is itself the proof that the watch is current.
        Settle(() =>
        {
            rig.Kube.HeardAt = rig.Clock.GetTimestamp();
            rig.Kube.SetPeerLabel("redis-1", "replica");
        });

        Assert.Equal(["api.label master"], Writes);
        Assert.Equal(readsWhileWaiting, rig.Journal.CountStarting("read.api.peer"));
    }

    [Fact]
    public void RunAsync_PeerStillLabelled_FirstFreshReadOnlyAfterASecondOfWaiting()
    {
        // The watch has just shown the label: reading it again at once would only compete with the previous master's write.
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromMilliseconds(900));
        Assert.Equal(0, rig.Journal.CountStarting("read.api.peer"));

        Advance(TimeSpan.FromMilliseconds(300));

        Assert.Equal(1, rig.Journal.CountStarting("read.api.peer"));
        Assert.Empty(Writes);
    }

    [Theory]
    [InlineData(100, 1)]   // the wait's fresh read answered 100 ms before the cache showed the label gone: it counts as heard
    [InlineData(400, 2)]   // 400 ms before: too old, one more fresh read first
    public void RunAsync_FreshReadJustAnswered_CountsAsHeard(int readMsBefore, int reads)
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromMilliseconds(1000 + readMsBefore)); // the wait's first fresh read is sent at 1 s
        Assert.Equal(1, rig.Journal.CountStarting("read.api.peer"));

        rig.Pods.PeerLabelNow = _ => "replica";
        Settle(() => rig.Kube.SetPeerLabel("redis-1", "replica")); // the watch not heard from just now: HeardAt stays 0

        Assert.Equal(["api.label master"], Writes);
        Assert.Equal(reads, rig.Journal.CountStarting("read.api.peer"));
    }

    [Theory]
    [InlineData(true, 1200, 0)]    // the watch showed the previous master's label go after this pod's promotion began: no fresh read
    [InlineData(false, 1200, 1)]   // nothing heard since the promotion began: a fresh read first
    [InlineData(true, 2200, 1)]    // the promotion began too long ago for that: a fresh read first
    public void RunAsync_PromotionBegan_WatchHeardSince_LabelsWithoutAFreshRead(bool heardSince, int labelMsAfterBegan, int reads)
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        rig.Applier.NotePromotionBegan(); // +failover-state-wait-promotion naming this pod
        Advance(TimeSpan.FromMilliseconds(500));
        Settle(() =>
        {
            if (heardSince) rig.Kube.HeardAt = rig.Clock.GetTimestamp();
            rig.Kube.SetPeerLabel("redis-1", "replica"); // the previous master stepped down
        });
        Advance(TimeSpan.FromMilliseconds(labelMsAfterBegan - 500));

        Publish(RoleLabel.Master, true, timed: true); // +promoted-slave

        Assert.Equal(["api.label master"], Writes);
        Assert.Equal(reads, rig.Journal.CountStarting("read.api.peer"));
    }

    [Theory]
    [InlineData(true, 1000)]   // the watch answered a second ago: it may have died silently since
    [InlineData(false, 0)]     // it answered just now, but has failed since (not live)
    public void RunAsync_WatchNotJustHeardOrNotLive_FreshReadDecides(bool live, int heardMsAgo)
    {
        Start(FakeKubeFacts.Set("replica", true) with { Live = live });
        rig.Kube.HeardAt = rig.Clock.GetTimestamp();
        Advance(TimeSpan.FromMilliseconds(heardMsAgo));
        rig.Pods.PeerLabelNow = name => name == "redis-1" ? "master" : "replica"; // the API shows a peer labelled
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromMilliseconds(100));

        Assert.Empty(Writes);
        Assert.True(rig.Journal.CountStarting("read.api.peer") >= 1, "expected a fresh read: " + rig.Journal);
    }

    [Fact]
    public void RunAsync_PeerLabelledPastTheBound_LabelsWithAWarningEvent()
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        var start = rig.Clock.GetUtcNow();
        Publish(RoleLabel.Master, true, timed: true);

        Advance(Bound - Step);
        Assert.Empty(Writes);
        Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(["api.label master"], Writes);
        Assert.InRange(rig.Pods.Writes[0].At - start, Bound, Bound + TimeSpan.FromMilliseconds(500));
        var warning = Assert.Single(rig.Pods.Events, e => e.Type == "Warning");
        Assert.Equal("PreviousMasterStillLabelled", warning.Reason);
        Assert.Contains("redis-1", warning.Message);
    }

    [Fact]
    public void RunAsync_WatchNotLive_BoundStartsOnlyOnceLiveAgain()
    {
        // The API is down: the previous master's sidecar cannot drop its label either, so the wait must not run out.
        Start(FakeKubeFacts.Set("replica", true, peer1: "master") with { Live = false });
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromSeconds(7));
        Assert.Empty(Writes);

        var live = rig.Clock.GetUtcNow();
        Settle(() => rig.Kube.Update(f => f with { Live = true }), timed: true);
        Advance(Bound - Step);
        Assert.True(Writes.Count == 0, $"labelled {rig.Pods.Writes.FirstOrDefault().At - live} after the watch came back, before the bound ({Bound})");
        Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(["api.label master"], Writes);
        Assert.True(rig.Pods.Writes[0].At - live >= Bound);
    }

    [Fact]
    public void RunAsync_ApiFailsWhileTheWatchStaysLive_BoundStartsOverAfterTheLastFailedRead()
    {
        // The watch keeps delivering but every request fails (503s): the previous master's sidecar cannot drop its label
        // either. The fresh reads made while waiting see it, and the bound starts over after the last failed one.
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        var failing = true;
        rig.Pods.Before = (entry, _) => failing && entry.StartsWith("read.api.peer", StringComparison.Ordinal)
            ? throw new PodApiException("list pods: HTTP 503 Service Unavailable")
            : Task.CompletedTask;
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromSeconds(8));
        Assert.Empty(Writes);
        Assert.True(rig.Journal.CountStarting("read.api.peer") >= 6, "expected a fresh read about once a second while waiting: " + rig.Journal);

        var recovered = rig.Clock.GetUtcNow();
        failing = false;
        Advance(Bound - TimeSpan.FromSeconds(1.5));
        Assert.Empty(Writes);
        Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(["api.label master"], Writes);
        Assert.True(rig.Pods.Writes[0].At - recovered >= Bound - TimeSpan.FromSeconds(1), $"labelled {rig.Pods.Writes[0].At - recovered} after the API recovered");
    }

    [Fact]
    public void RunAsync_WatchDropsMidWait_BoundRestartsOnceLiveAgain()
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        Publish(RoleLabel.Master, true, timed: true);
        Advance(TimeSpan.FromSeconds(4));
        Settle(() => rig.Kube.Update(f => f with { Live = false }), timed: true);
        Advance(TimeSpan.FromSeconds(3));

        var live = rig.Clock.GetUtcNow();
        Settle(() => rig.Kube.Update(f => f with { Live = true }), timed: true);
        Advance(Bound - Step);
        Assert.Empty(Writes);
        Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(["api.label master"], Writes);
        Assert.True(rig.Pods.Writes[0].At - live >= Bound);
    }

    [Fact]
    public void RunAsync_ConditionWriteFailsTwice_LabelGoesFirstThenTheConditionIsRetriedUntilItSucceeds()
    {
        Start(FakeKubeFacts.Set("master", true));
        var failures = 2;
        rig.Pods.Before = (entry, _) => entry == "api.condition False" && Interlocked.Decrement(ref failures) >= 0
            ? throw new PodApiException("patch pods/status/redis-0: HTTP 500 Internal Server Error")
            : Task.CompletedTask;

        Publish(RoleLabel.Replica, false, timed: true);
        Advance(TimeSpan.FromSeconds(3));

        // An unwritable condition never keeps a demoted master's label on it (its /readyz is down already).
        Assert.Equal(["api.condition False", "api.label replica", "demoted", "api.condition False", "api.condition False"], Writes);
    }

    [Fact]
    public void RunAsync_WriteFails_NoRetryBeforeTheBackoff()
    {
        Start(FakeKubeFacts.Set("replica", true));
        rig.Pods.Before = (entry, _) => entry == "api.condition False" ? throw new PodApiException("HTTP 503") : Task.CompletedTask;

        Publish(RoleLabel.Replica, false, timed: true);
        Advance(TimeSpan.FromMilliseconds(100)); // below 200 ms - 20 %
        Assert.Equal(1, rig.Journal.Count("api.condition False"));
        Advance(TimeSpan.FromMilliseconds(200)); // 300 ms: above 200 ms + 20 %
        Assert.Equal(2, rig.Journal.Count("api.condition False"));
        Advance(TimeSpan.FromMilliseconds(200)); // 500 ms: the second backoff (320-480 ms) not over
        Assert.Equal(2, rig.Journal.Count("api.condition False"));
        Advance(TimeSpan.FromMilliseconds(400)); // 900 ms: it is
        Assert.Equal(3, rig.Journal.Count("api.condition False"));
        Assert.Empty(rig.Journal.Starting("api.label"));       // the label is right: nothing else to write
    }

    [Fact]
    public void RunAsync_NewerIntentWhileWaitingForPeers_Supersedes()
    {
        Start(FakeKubeFacts.Set("replica", true, peer1: "master"));
        Publish(RoleLabel.Master, true, timed: true);

        Publish(RoleLabel.Replica, true);
        Advance(Bound * 2);

        Assert.Empty(Writes);
        Assert.Empty(rig.Pods.Events);
    }

    [Fact]
    public void RunAsync_NewerIntentDuringBackoff_AppliedWithoutWaitingForTheBackoff()
    {
        Start(FakeKubeFacts.Set("replica", true));
        rig.Pods.Before = (entry, _) => entry == "api.condition False" ? throw new PodApiException("HTTP 503") : Task.CompletedTask;
        Publish(RoleLabel.Replica, false, timed: true);               // the condition write fails: a backoff starts

        Publish(RoleLabel.Replica, true);                              // ready again before the backoff is over

        Assert.Equal(["api.condition False"], rig.Journal.Starting("api.condition"));
        Assert.Empty(rig.Journal.Starting("api.label"));
    }

    [Fact]
    public void RunAsync_DemotionConditionFails_LabelGoesAnywayAndTheConditionIsRetried()
    {
        Start(FakeKubeFacts.Set("master", true));
        var failures = 1;
        rig.Pods.Before = (entry, _) => entry == "api.condition False" && Interlocked.Decrement(ref failures) >= 0
            ? throw new PodApiException("HTTP 503") : Task.CompletedTask;

        Publish(RoleLabel.Replica, false, timed: true);
        Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(["api.label replica"], rig.Journal.Starting("api.label"));   // once: it went with the failed condition
        Assert.Equal(2, rig.Journal.Count("api.condition False"));                 // the failed one, then its retry
        Assert.Equal(1, demoted);
    }

    [Fact]
    public void RunAsync_CacheNotYetShowingTheWrite_DoesNotRepeatIt()
    {
        // The watch shows a write some time after the API accepted it; until then the applier must not write it again.
        Start(FakeKubeFacts.Set("replica", true), r => r.Pods.ReflectWrites = false);

        Publish(RoleLabel.Master, true, timed: true);
        Assert.Equal(["api.label master"], Writes);

        Settle(() => rig.Kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels("redis-role", "master") }));
        Assert.Equal(["api.label master"], Writes);
        Assert.Single(rig.Pods.Events, e => e.Reason == "RoleChanged");
    }

    [Fact]
    public void RunAsync_WriteNeverShowsInTheWatch_RepairedLater()
    {
        Start(FakeKubeFacts.Set("replica", true), r => r.Pods.ReflectWrites = false);
        Publish(RoleLabel.Master, true, timed: true);

        Advance(TimeSpan.FromSeconds(3));

        Assert.True(rig.Journal.Count("api.label master") >= 2, "a write the watch never shows is made again after a while");
    }

    [Fact]
    public void RunAsync_HandEditedLabel_Repaired()
    {
        Start(FakeKubeFacts.Set("replica", true));
        Publish(RoleLabel.Replica, true);

        Settle(() => rig.Kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels("redis-role", "master") }));

        Assert.Equal(["api.label replica", "demoted"], Writes);
    }

    [Fact]
    public void RunAsync_FailoverSignalThenLabel_EventToLabelObserved()
    {
        Start(FakeKubeFacts.Set("replica", true));
        rig.Applier.NoteFailoverSignal(rig.Clock.GetTimestamp());
        rig.Clock.Advance(TimeSpan.FromMilliseconds(1500));

        Publish(RoleLabel.Master, true);

        var metrics = rig.Metrics.Render();
        Assert.Contains("redis_sidecar_event_to_label_seconds_count 1\n", metrics);
        Assert.Contains("redis_sidecar_event_to_label_seconds_sum 1.5\n", metrics);
        Assert.Contains("redis_sidecar_event_to_label_seconds_bucket{le=\"1\"} 0\n", metrics);
        Assert.Contains("redis_sidecar_event_to_label_seconds_bucket{le=\"2.5\"} 1\n", metrics);
    }

    [Fact]
    public void RunAsync_SignalThatLeavesThisPodsLabel_NotObservedLater()
    {
        Start(FakeKubeFacts.Set("replica", true));
        rig.Applier.NoteFailoverSignal(rig.Clock.GetTimestamp());
        rig.Clock.Advance(TimeSpan.FromMilliseconds(10));
        Publish(RoleLabel.Replica, true); // decided after the signal, nothing to change here

        rig.Clock.Advance(TimeSpan.FromSeconds(30));
        Publish(RoleLabel.Master, true);  // an unrelated change much later

        Assert.Contains("redis_sidecar_event_to_label_seconds_count 0\n", rig.Metrics.Render());
    }
}
