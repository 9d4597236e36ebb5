using RedisSidecars.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Sidecar;

/// <summary>Three published redis-sidecars against real Redis + Sentinel and the API server double.</summary>
public sealed class SidecarLabellingTests(ITestOutputHelper output)
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    const string L = SidecarSet.Label, M = SidecarSet.Master;

    [Fact]
    public async Task Start_MasterAndReplicas_LabelledAndReady()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        await s.Set.WaitUntilAsync(async () => s.ConditionOf(1) == "True" && s.ConditionOf(2) == "True", Settle, "replicas ready");

        Assert.Equal(M, s.LabelOf(0));
        Assert.Equal("replica", s.LabelOf(1));
        Assert.Equal("replica", s.LabelOf(2));
        Assert.Equal(200, (await s.HttpAsync(0, "GET", "/readyz")).Code);
        Assert.Equal(200, (await s.HttpAsync(0, "GET", "/livez")).Code);
        var metrics = (await s.HttpAsync(0, "GET", "/metrics")).Body;
        Assert.Contains("redis_sidecar_role 2", metrics);
        Assert.Contains("redis_sidecar_sentinels_reachable 3", metrics);
        Assert.Contains("redis_sidecar_label_patches_total 1", metrics);
        Assert.Contains("redis_sidecar_event_to_label_seconds_bucket{le=\"+Inf\"}", metrics);
        // The kubelet's own conditions survive the sidecar's status patches (strategic merge, not merge).
        var conditions = s.Api.GetPod(SidecarSet.Namespace, "redis-0")!["status"]!["conditions"]!.AsArray();
        Assert.Contains(conditions, c => (string?)c!["type"] == "PodScheduled");
        Assert.Contains(s.Api.Events, e => e.Reason == "RoleChanged" && e.ObjectName == "redis-0");
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task SentinelFailover_LabelsMove_NeverTwoPodsLabelledMaster()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        for (var round = 0; round < 3; round++)
        {
            var before = (await s.Set.WaitForSettledAsync(TimeSpan.FromSeconds(60))).Address;
            Assert.Equal("OK", (await s.Set.TryExecAsync(s.Set.Sentinels[round % 3], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
            await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != before, Settle, "failover");
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, $"labels after failover {round}");
        }
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
        output.WriteLine((await s.HttpAsync(0, "GET", "/metrics")).Body);
    }

    /// <summary>
    /// Both replicas hung (SIGSTOP) just before SENTINEL FAILOVER: the leader selects one and sends it SLAVEOF NO ONE
    /// (+failover-state-wait-promotion), but no replica can show the promotion until they run again. The old master
    /// leaves the Service on that event, before any +promoted-slave; then the promotion completes and labels move on.
    /// </summary>
    [Fact]
    public async Task SentinelFailover_OldMasterStepsDownWhenTheLeaderSendsSlaveofNoOne_BeforeThePromotion()
    {
        await using var s = await SidecarSet.StartAsync();
        await using var events = await SentinelEvents.StartAsync(s.Set, "+failover-state-wait-promotion", "+promoted-slave");
        await HoldThePromotionAsync(s, events, async () =>
        {
            Assert.Null(events.First("+promoted-slave"));
            Assert.Empty(s.MasterLabelled());
            Assert.Equal(503, (await s.HttpAsync(0, "GET", "/readyz")).Code);
        });

        await events.WaitAsync("+promoted-slave", Settle);
        await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != s.Set.Redis[0].Address, Settle, "failover");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the promotion");
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    /// <summary>
    /// As above, but the replicas stay hung past failover-timeout (4 s here): Sentinel aborts the failover
    /// (-failover-abort-slave-timeout), the old master is still the master, and its sidecar takes the label back.
    /// </summary>
    [Fact]
    public async Task SentinelFailover_PromotionNeverHappens_OldMasterTakesItsLabelBack()
    {
        await using var s = await SidecarSet.StartAsync();
        await using var events = await SentinelEvents.StartAsync(s.Set, "+failover-state-wait-promotion", "-failover-abort-slave-timeout");
        await HoldThePromotionAsync(s, events, async () =>
        {
            await events.WaitAsync("-failover-abort-slave-timeout", Settle);
            await s.Set.WaitUntilAsync(() => Task.FromResult(s.LabelOf(0) == M && s.ConditionOf(0) == "True"), Settle,
                "the old master labelled and ready again\n" + s.Diagnostics());
        });

        // The replica that got SLAVEOF NO ONE runs it now; Sentinel converts it back, and the old master keeps the label.
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels once the replicas run again");
        Assert.Equal(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
        Assert.Equal(M, s.LabelOf(0));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    /// <summary>Hangs both replicas, asks for a failover, waits until the master (redis-0) has stepped down, runs <paramref name="meanwhile"/>, resumes them.</summary>
    static async Task HoldThePromotionAsync(SidecarSet s, SentinelEvents events, Func<Task> meanwhile)
    {
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var replicas = s.Set.Redis.Skip(1).ToArray();
        foreach (var r in replicas) s.Set.Pause(r);
        try
        {
            Assert.Equal("OK", (await s.Set.TryExecAsync(s.Set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
            await events.WaitAsync("+failover-state-wait-promotion", Settle);
            // Its label and its condition go together, in two requests that may land in either order.
            await s.Set.WaitUntilAsync(() => Task.FromResult(s.LabelOf(0) == "replica" && s.ConditionOf(0) == "False"), Settle,
                "the old master stepped down\n" + s.Diagnostics());
            await meanwhile();
        }
        finally { foreach (var r in replicas) s.Set.Resume(r); }
    }

    [Fact]
    public async Task KillMaster_LabelsMoveToNewMaster_OldPodNotReady()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        s.Set.Kill(s.Set.Redis[0]);
        await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != s.Set.Redis[0].Address, Settle, "failover");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after kill -9");
        Assert.NotEqual(M, s.LabelOf(0));
        Assert.Equal("False", s.ConditionOf(0));
        Assert.Equal(503, (await s.HttpAsync(0, "GET", "/readyz")).Code);
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task HungMaster_PastDownAfter_ItsOwnSidecarDropsTheLabel()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        s.Set.Pause(s.Set.Redis[0]);
        try
        {
            await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != s.Set.Redis[0].Address, Settle, "failover");
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels while the old master hangs");
            Assert.Equal("False", s.ConditionOf(0));
        }
        finally { s.Set.Resume(s.Set.Redis[0]); }
        // Back from the hang it is an old master; Sentinel converts it and it becomes a ready replica.
        await s.Set.WaitUntilAsync(async () => s.ConditionOf(0) == "True" && await s.Set.RoleAsync(s.Set.Redis[0]) == "slave", Settle, "old master rejoined as a ready replica");
        Assert.Equal("replica", s.LabelOf(0));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task AllSentinelsStopped_FailSafe_ThenRecovers()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        foreach (var sentinel in s.Set.Sentinels) s.Set.Kill(sentinel);

        await s.Set.WaitUntilAsync(() => Task.FromResult(s.LabelOf(0) != M && s.ConditionOf(0) == "False"), Settle, "fail-safe: master unlabelled and not ready\n" + s.Diagnostics());
        Assert.Empty(s.MasterLabelled());
        Assert.Equal(503, (await s.HttpAsync(0, "GET", "/readyz")).Code);

        foreach (var sentinel in s.Set.Sentinels) s.Set.StartServer(sentinel); // their configs as they rewrote them
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels restored when the Sentinel majority returns");
        Assert.Equal(M, s.LabelOf(0));
    }

    [Fact]
    public async Task ApiFailingDuringFailover_Converges()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        s.Api.FailUntil(TimeSpan.FromSeconds(6), 503);
        Assert.Equal("OK", (await s.Set.TryExecAsync(s.Set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
        await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != s.Set.Redis[0].Address, Settle, "failover");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels converge once the API recovers");
        Assert.True(1 == s.Api.Timeline.MaxConcurrent(L, M), "two masters labelled:\n" + string.Join("\n", s.Api.Timeline.Changes.Where(c => c.Key == L)) + "\n" + s.Diagnostics());
        Assert.Contains("redis_sidecar_api_errors_total", (await s.HttpAsync(1, "GET", "/metrics")).Body);
        Assert.Contains(s.Api.Requests, r => r.StatusCode == 503);
    }

    [Fact]
    public async Task LabelEditedByHand_IsRepaired()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        s.Api.SetLabel(SidecarSet.Namespace, "redis-2", L, M);     // a human marks a replica master
        s.Api.SetLabel(SidecarSet.Namespace, "redis-0", L, null);  // and removes the real master's label
        await s.Set.WaitUntilAsync(() => Task.FromResult(s.LabelOf(2) == "replica" && s.LabelOf(0) == M), TimeSpan.FromSeconds(10), "labels repaired");
    }

    [Fact]
    public async Task Forbidden_LoggedOnceWithTheMissingRule()
    {
        await using var s = await SidecarSet.StartAsync(startSidecars: false);
        s.Api.Forbid("patch", "pods");
        s.StartSidecar(0);
        await s.Set.WaitUntilAsync(() => Task.FromResult(File.Exists(s.SidecarLog(0)) && File.ReadAllText(s.SidecarLog(0)).Contains("forbids patch on pods")),
            TimeSpan.FromSeconds(10), "the 403 is logged");
        await Task.Delay(2000);
        var log = File.ReadAllText(s.SidecarLog(0));
        Assert.Single(log.Split('\n'), l => l.Contains("forbids patch on pods"));
        Assert.Contains("verbs [\"patch\"], resourceNames [\"redis-0\"]", log);
        Assert.Null(s.LabelOf(0));
        s.Api.Allow("patch", "pods");
        await s.Set.WaitUntilAsync(() => Task.FromResult(s.LabelOf(0) == M), TimeSpan.FromSeconds(10), "labelled once allowed");
    }
}
