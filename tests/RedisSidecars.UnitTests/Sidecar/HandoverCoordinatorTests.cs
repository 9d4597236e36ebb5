using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.UnitTests.Core;
using Xunit;
using static RedisSidecars.UnitTests.Sidecar.Nodes;

namespace RedisSidecars.UnitTests.Sidecar;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HandoverCoordinatorTests
{
    const string AcceptedBy = "127.0.2.1:26379";
    readonly SteppingClock clock = new();

    static ReplicationInfo OneReplica(long master, long replica) => FakeLocalRedis.OneReplica(master, replica);

    async Task<WorkerRig> MasterRigAsync()
    {
        var rig = new WorkerRig(o => o.HandoverTimeoutMs = "2000", clock);
        await rig.BecomeMasterAsync(1);
        return rig;
    }

    Task<HandoverResult> RunAsync(HandoverCoordinator c) => clock.RunAsync(() => c.HandoverAsync("test", CancellationToken.None));

    /// <summary>Asserts that a handover that did not hand over unpaused and disconnected no client at all.</summary>
    static void AssertNoClientKillAfterUnpause(CallJournal j)
    {
        var unpause = j.IndexOf("redis.unpause");
        Assert.True(unpause >= 0, "expected UNPAUSE; calls: " + j);
        Assert.True(j.LastIndexOf("redis.kill") < 0, "no CLIENT KILL expected when the handover did not hand over; calls: " + j);
    }

    [Theory]
    [InlineData(false)] // the new master is seen by a poll
    [InlineData(true)]  // the new master is announced by +switch-master
    public async Task HandoverAsync_HappyPath_StepsInOrderAndHandedOver(bool byEvent)
    {
        var rig = await MasterRigAsync();
        var from = rig.Journal.All.Count;
        rig.Redis.Replication = n => n switch { 0 => OneReplica(100, 90), 1 => OneReplica(100, 95), 2 => OneReplica(100, 99), _ => OneReplica(100, 100) };
        bool? activeDuringFailover = null;
        rig.Sentinels.Failover = _ =>
        {
            activeDuringFailover = rig.Worker.HandoverActive;
            if (byEvent) rig.Worker.Tracker.OnSwitch(Other, 2);
            else rig.Sentinels.Answers = () => AllSay(Other, 2);
            return Task.FromResult<string?>(AcceptedBy);
        };

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.Contains(Other.ToString(), result.Detail);
        rig.Journal.AssertSubsequence(
            "pod.condition False", "pod.label replica",       // out of the Service first (worker.ApplyAsync → IPodWriter)
            "redis.pause",
            "read.redis.replication", "sentinel.failover",
            $"redis.replicate {Other}",
            "redis.unpause",
            "redis.kill");
        var calls = rig.Journal.All.Skip(from).ToList();
        Assert.Equal("redis.kill", calls[^1]);                              // clients go last, to the new master
        Assert.Single(calls, c => c == "redis.kill");                       // and only once, after the unpause
        Assert.Equal(4, calls.Count(c => c == "read.redis.replication"));   // the check, then 3 reads until caught up
        Assert.True(calls.LastIndexOf("read.redis.replication") < calls.IndexOf("sentinel.failover"));
        Assert.Equal(1, rig.Sentinels.FailoverCalls);
        Assert.True(activeDuringFailover);
        Assert.False(rig.Worker.HandoverActive);
        Assert.Equal(1, rig.Metrics.Handovers.Value);
        Assert.Equal(TimeSpan.FromMilliseconds(2000), rig.Redis.PausedFor); // bounded by HANDOVER_TIMEOUT_MS
        Assert.Equal("replica", rig.Pod.Label);

        await rig.TickAsync(); // the worker takes over again: a healthy replica of the new master
        Assert.Equal("replica", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public async Task HandoverAsync_LocalReplica_NotMasterAtOnce()
    {
        var rig = new WorkerRig(o => o.HandoverTimeoutMs = "2000", clock);
        rig.Sentinels.Answers = () => AllSay(Other, 1);
        rig.Redis.State = ReplicaOf(Other);
        await rig.TickAsync();
        var writes = rig.Journal.Writes.Count;

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.NotMaster, result.Outcome);
        Assert.Equal(writes, rig.Journal.Writes.Count); // no pause, no failover, no pod write
        Assert.Equal(0, rig.Sentinels.FailoverCalls);
        Assert.Equal(0, clock.TimersCreated);
    }

    [Fact]
    public async Task HandoverAsync_LocalMasterButSentinelsNameAnother_NotMaster()
    {
        var rig = await MasterRigAsync();
        rig.Worker.Tracker.OnSwitch(Other, 2);
        var writes = rig.Journal.Writes.Count;

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.NotMaster, result.Outcome);
        Assert.Contains(Other.ToString(), result.Detail);
        Assert.Equal(writes, rig.Journal.Writes.Count);
        Assert.DoesNotContain("redis.pause", rig.Journal.All);
    }

    [Fact]
    public async Task HandoverAsync_LocalRedisDoesNotAnswerButSentinelsNameMe_LocalUnreachableAfterRetrying()
    {
        var rig = await MasterRigAsync();
        rig.Redis.State = RedisSidecars.Core.Roles.LocalRedisState.Unreachable("timed out");
        var reads = rig.Journal.All.Count(c => c == "read.redis.state");

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.LocalUnreachable, result.Outcome);
        Assert.Contains("timed out", result.Detail);
        Assert.True(rig.Journal.All.Count(c => c == "read.redis.state") - reads > 1, "the local Redis is asked more than once");
        Assert.DoesNotContain("redis.pause", rig.Journal.All);
        Assert.Equal(0, rig.Sentinels.FailoverCalls);
    }

    [Fact]
    public async Task HandoverAsync_NoSentinelView_NotMaster()
    {
        var rig = new WorkerRig(o => o.HandoverTimeoutMs = "2000", clock);
        rig.Redis.State = LocalMaster();

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.NotMaster, result.Outcome);
        Assert.Contains("nobody", result.Detail);
        Assert.DoesNotContain("redis.pause", rig.Journal.All);
    }

    [Fact]
    public async Task HandoverAsync_NoOnlineReplica_NoHealthyReplicaNothingTouched()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => new ReplicationInfo(100, []);
        var writes = rig.Journal.Writes.Count;

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.NoHealthyReplica, result.Outcome);
        Assert.Equal(writes, rig.Journal.Writes.Count); // still labelled master, never paused
        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
        Assert.False(rig.Worker.HandoverActive);
        Assert.Equal(0, rig.Sentinels.FailoverCalls);
    }

    [Fact]
    public async Task HandoverAsync_SentinelRefuses_UnpausedNoKillAndMasterAgain()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => OneReplica(100, 100);
        rig.Sentinels.Failover = _ => Task.FromResult<string?>(null);

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.SentinelRefused, result.Outcome);
        rig.Journal.AssertSubsequence("redis.pause", "sentinel.failover", "redis.unpause");
        AssertNoClientKillAfterUnpause(rig.Journal);
        Assert.DoesNotContain(rig.Journal.All, c => c.StartsWith("redis.replicate", StringComparison.Ordinal));
        Assert.False(rig.Worker.HandoverActive);
        Assert.Equal(0, rig.Metrics.Handovers.Value);

        await rig.TickAsync(); // still the Sentinels' master: labelled and ready again
        Assert.Equal("master", rig.Pod.Label);
        Assert.True(rig.Worker.Ready);
    }

    [Fact]
    public async Task HandoverAsync_ReplicaNeverCatchesUp_TimedOutWithinTimeoutAndUnpaused()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => OneReplica(100, 90);
        var start = clock.GetUtcNow();

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.TimedOut, result.Outcome);
        Assert.Contains("HANDOVER_TIMEOUT_MS", result.Detail);
        Assert.InRange(clock.Elapsed(start), TimeSpan.FromMilliseconds(2000), TimeSpan.FromMilliseconds(2020));
        Assert.InRange(result.Took, TimeSpan.FromMilliseconds(2000), TimeSpan.FromMilliseconds(2020));
        Assert.Equal(0, rig.Sentinels.FailoverCalls);
        AssertNoClientKillAfterUnpause(rig.Journal);
        Assert.False(rig.Worker.HandoverActive);
    }

    [Fact]
    public async Task HandoverAsync_NoNewMasterAnnounced_TimedOutAndUnpaused()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => OneReplica(100, 100);
        rig.Sentinels.Failover = _ => Task.FromResult<string?>(AcceptedBy); // accepted, but the Sentinels keep naming redis-0
        var start = clock.GetUtcNow();

        var result = await RunAsync(rig.Coordinator());

        Assert.Equal(HandoverOutcome.TimedOut, result.Outcome);
        Assert.Contains("did not announce", result.Detail);
        Assert.InRange(clock.Elapsed(start), TimeSpan.FromMilliseconds(2000), TimeSpan.FromMilliseconds(2100));
        Assert.DoesNotContain(rig.Journal.All, c => c.StartsWith("redis.replicate", StringComparison.Ordinal));
        AssertNoClientKillAfterUnpause(rig.Journal);
        Assert.False(rig.Worker.HandoverActive);
    }

    [Fact]
    public async Task HandoverAsync_TwoConcurrentCalls_ShareOneRun()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => OneReplica(100, 100);
        var failover = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Sentinels.Failover = _ => failover.Task;
        var coordinator = rig.Coordinator();

        var first = coordinator.HandoverAsync("SIGTERM", CancellationToken.None);
        await WaitUntilAsync(() => rig.Sentinels.FailoverCalls == 1);
        var second = coordinator.HandoverAsync("POST /handover", CancellationToken.None);

        Assert.Same(first, second);
        Assert.False(first.IsCompleted);

        // Meanwhile the reconcile loop keeps the pod out of the Service.
        await rig.TickAsync();
        Assert.Equal("replica", rig.Pod.Label);
        Assert.False(rig.Worker.Ready);

        rig.Worker.Tracker.OnSwitch(Other, 2);
        failover.SetResult(AcceptedBy);
        var result = await first.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HandoverOutcome.HandedOver, result.Outcome);
        Assert.Equal(1, rig.Sentinels.FailoverCalls);
        Assert.Equal(1, rig.Journal.Count("redis.pause"));
    }

    [Fact]
    public async Task HandoverAsync_CalledAgainAfterHandedOver_NotMaster()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => OneReplica(100, 100);
        rig.Sentinels.Failover = _ => { rig.Worker.Tracker.OnSwitch(Other, 2); return Task.FromResult<string?>(AcceptedBy); };
        var coordinator = rig.Coordinator();
        var first = await clock.RunAsync(() => coordinator.HandoverAsync("POST /handover", CancellationToken.None));
        Assert.Equal(HandoverOutcome.HandedOver, first.Outcome);

        var second = await clock.RunAsync(() => coordinator.HandoverAsync("SIGTERM", CancellationToken.None));

        Assert.Equal(HandoverOutcome.NotMaster, second.Outcome);
        Assert.Equal(1, rig.Sentinels.FailoverCalls);
        Assert.Equal(1, rig.Journal.Count("redis.pause"));
    }

    [Fact]
    public async Task HandoverAsync_CalledAgainAfterRefusal_RunsAgain()
    {
        var rig = await MasterRigAsync();
        rig.Redis.Replication = _ => OneReplica(100, 100);
        var coordinator = rig.Coordinator();
        Assert.Equal(HandoverOutcome.SentinelRefused, (await clock.RunAsync(() => coordinator.HandoverAsync("a", CancellationToken.None))).Outcome);
        await rig.TickAsync();

        rig.Sentinels.Failover = _ => { rig.Worker.Tracker.OnSwitch(Other, 2); return Task.FromResult<string?>(AcceptedBy); };
        var again = await clock.RunAsync(() => coordinator.HandoverAsync("b", CancellationToken.None));

        Assert.Equal(HandoverOutcome.HandedOver, again.Outcome);
        Assert.Equal(2, rig.Sentinels.FailoverCalls);
    }

    static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(5);
        }
    }
}
