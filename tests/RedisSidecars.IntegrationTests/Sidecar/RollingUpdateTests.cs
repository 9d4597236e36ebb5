using RedisSidecars.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Sidecar;

/// <summary>
/// What a real cluster showed: a promoted replica went NotReady at its promotion (the master Service had no ready
/// endpoint for seconds), and a rolling restart moved mastership twice. The kubelet's readiness probe runs against every
/// sidecar (the manifests' settings), so the double's Ready conditions and endpoints are what a cluster would have.
/// </summary>
public sealed class RollingUpdateTests(ITestOutputHelper output)
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    const string Ns = SidecarSet.Namespace;

    static Task AllReadyAsync(SidecarSet s) => s.Set.WaitUntilAsync(
        () => Task.FromResult(s.Set.Redis.All(n => s.Api.GetConditionStatus(Ns, n.Name, "Ready") == "True")), Settle, "every pod Ready");

    [Fact]
    public async Task Promotion_ThePromotedReplicaNeverGoesNotReady()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        await AllReadyAsync(s);

        // A forced failover, then a planned handover: each promotes a ready replica, which must stay Ready throughout.
        for (var round = 0; round < 2; round++)
        {
            var from = s.Api.Timeline.Elapsed;
            var before = await s.Set.AgreedMasterAsync();
            if (round == 0) Assert.Equal("OK", (await s.Set.TryExecAsync(s.Set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
            else Assert.StartsWith("HandedOver", (await s.HandoverAsync(s.Set.NodeAt(before!).Ordinal)).Body);
            await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != before, Settle, "the promotion");
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the promotion");
            var promoted = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
            await s.Set.WaitUntilAsync(() => Task.FromResult(s.ServiceEndpoint() == promoted), Settle, "the promoted pod is the master Service's endpoint");

            var endpoints = s.MasterEndpoints();
            var notReady = endpoints.WentNotReady(promoted.Name).Where(t => t >= from).ToArray();
            output.WriteLine($"round {round}: {promoted.Name} promoted; master Service without a ready endpoint for at most {endpoints.LongestWithoutReady(from).TotalMilliseconds:0} ms; changes: "
                + string.Join(" | ", endpoints.Changes.Where(c => c.Elapsed >= from).Select(c => $"{(c.Elapsed - from).TotalMilliseconds:0} ms [{string.Join(",", c.Ready)}]")));
            Assert.True(notReady.Length == 0, $"{promoted.Name} went NotReady at {string.Join(", ", notReady.Select(t => $"+{(t - from).TotalMilliseconds:0} ms"))} during its promotion");
            Assert.False(endpoints.EverTwoReady);
        }
    }

    [Fact]
    public async Task RollingRestart_OutdatedReplicasAdvertiseAWorsePriority_TheHandoverPromotesTheUpToDateOne()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        Assert.Equal(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
        await s.Set.WaitUntilAsync(async () => await PrioritiesAsync(s) is [100, 100], Settle, "both replicas at the normal priority");

        // kubectl rollout restart: a new update revision; every pod still runs the old one.
        var revision = s.Api.RolloutRestart(Ns, SidecarSet.StatefulSet);
        await s.Set.WaitUntilAsync(async () => await PrioritiesAsync(s) is [200, 200], Settle, "outdated replicas advertise a worse priority (as Sentinel sees it)");

        // The controller restarts the highest ordinal first: redis-2 comes back on the new revision.
        s.Api.RecreatePod(Ns, "redis-2", revision);
        await s.Set.WaitUntilAsync(async () => await PrioritiesAsync(s) is [200, 100], Settle, "the recreated replica back at the normal priority");

        // Then the master's turn: its preStop hands over, and Sentinel must pick the up-to-date replica although
        // redis-1 is just as far in the replication stream.
        var (code, body) = await s.HandoverAsync(0);
        output.WriteLine(body);
        Assert.Equal(200, code);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the handover");
        Assert.Equal(s.Set.Redis[2].Address, await s.Set.AgreedMasterAsync());

        // The rest of the rollout: no further handover is needed, and priorities end normal.
        s.Api.RecreatePod(Ns, "redis-1", revision);
        s.Api.RecreatePod(Ns, "redis-0", revision);
        await s.Set.WaitUntilAsync(async () => await PrioritiesAsync(s, master: 2) is [100, 100], Settle, "every replica current again");
        Assert.Equal(s.Set.Redis[2].Address, await s.Set.AgreedMasterAsync());
    }

    [Fact]
    public async Task RollingRestart_AfterABlackholeKilledEveryWatch_PeersLearnOfItWhenThePodGoesDown_TheHandoverPromotesTheUpToDateOne()
    {
        // Found by the chaos run (seed 20261122, steps 9–12): a blackhole leaves every open watch dead until its idle
        // timeout (3 min), so the sidecars never saw the rollout; the outdated replica kept the normal priority and the
        // master's handover promoted it over the up-to-date one.
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        Assert.Equal(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
        await s.Set.WaitUntilAsync(async () => await PrioritiesAsync(s) is [100, 100], Settle, "both replicas at the normal priority");
        await s.Set.WaitUntilAsync(() => Task.FromResult(s.Api.OpenWatches == 2 * s.Set.Redis.Count), Settle, "every sidecar's two watches open");
        s.Api.Blackhole();
        s.Api.EndBlackhole();

        var revision = s.Api.RolloutRestart(Ns, SidecarSet.StatefulSet);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var priority = await OwnPriorityAsync(s, 1);
        Assert.True(priority == 100, $"redis-1 at replica-priority {priority}: the dead watches delivered the rollout?\n{Text.Tail(s.SidecarLog(1), 20)}");

        // The controller stops redis-2 first: Sentinel's +sdown of it is the news the sidecars act on.
        var redis2 = s.Set.Redis[2];
        s.Set.Kill(redis2);
        await s.Set.WaitUntilAsync(async () => await OwnPriorityAsync(s, 1) == 200, Settle, "redis-1, still outdated, at the worse priority",
            why: () => s.Diagnostics());
        s.Api.RecreatePod(Ns, redis2.Name, revision);
        await s.Set.StartAsync(redis2);
        await s.Set.WaitUntilAsync(async () => await PrioritiesAsync(s) is [200, 100], Settle, "Sentinel sees redis-1 outdated, redis-2 current");

        var (code, body) = await s.HandoverAsync(0);
        output.WriteLine(body);
        Assert.Equal(200, code);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the handover");
        Assert.Equal(redis2.Address, await s.Set.AgreedMasterAsync());
        foreach (var i in new[] { 0, 1 })
            Assert.Contains("reopened from its resourceVersion", File.ReadAllText(s.SidecarLog(i)), StringComparison.Ordinal);
    }

    /// <summary>A replica's own <c>replica-priority</c> (what its sidecar set), or -1 when it does not answer.</summary>
    static async Task<int> OwnPriorityAsync(SidecarSet s, int ordinal) =>
        await s.Set.TryExecAsync(s.Set.Redis[ordinal], "CONFIG", "GET", "replica-priority") is { Length: 2 } r
            ? int.Parse((string)r[1]!, System.Globalization.CultureInfo.InvariantCulture) : -1;

    /// <summary>The replicas' <c>slave-priority</c> as Sentinel sees it (what it uses to pick a replica), in ordinal order.</summary>
    static async Task<int[]> PrioritiesAsync(SidecarSet s, int master = 0)
    {
        var replicas = await s.Set.TryExecAsync(s.Set.Sentinels[0], "SENTINEL", "REPLICAS", RedisSet.MasterSet);
        if (replicas is null) return [];
        var byAddress = new Dictionary<string, int>();
        for (var i = 0; i < replicas.Length; i++)
        {
            var d = replicas[i].ToDictionary();
            byAddress[$"{(string?)d["ip"]}:{(string?)d["port"]}"] = int.Parse((string)d["slave-priority"]!, System.Globalization.CultureInfo.InvariantCulture);
        }
        return s.Set.Redis.Where(n => n.Ordinal != master).Select(n => byAddress.GetValueOrDefault(n.Address, -1)).ToArray();
    }
}
