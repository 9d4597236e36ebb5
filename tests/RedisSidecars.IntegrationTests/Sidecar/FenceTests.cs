using System.Diagnostics;
using RedisSidecars.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Sidecar;

/// <summary>
/// Fencing an isolated master, with a real partition (iptables on loopback, <see cref="LoopbackPartition"/>): real
/// redis-server and redis-sentinel, the published sidecars each under its own uid, the API double reachable from both
/// sides, and clients on the master's side writing to it directly.
/// </summary>
public sealed class FenceTests(ITestOutputHelper output)
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);
    const string L = SidecarSet.Label, M = SidecarSet.Master;

    static Task<SidecarSet> StartAsync(bool fence = true) =>
        SidecarSet.StartAsync(sidecarEnv: fence ? null : new Dictionary<string, string> { ["FENCE_ENABLED"] = "false" }, sidecarUids: true);

    static async Task<string> MetricsAsync(SidecarSet s, int i) => (await s.HttpAsync(i, "GET", "/metrics")).Body;

    static bool Has(string metrics, string line) => metrics.Contains("\n" + line + "\n", StringComparison.Ordinal);

    /// <summary>A pooled SET + WAIT 1 client on the master's side, writing to redis-0 directly, once the labels settled.</summary>
    static async Task<AckedWriter> WriteToMasterAsync(SidecarSet s)
    {
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var writer = new AckedWriter(() => s.Set.Redis[0], s.Set);
        writer.Start();
        try { await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 200), Settle, "writer running"); }
        catch
        {
            await writer.DisposeAsync();
            throw;
        }
        return writer;
    }

    static int Events(SidecarSet s, string reason, int i) => s.Api.Events.Count(e => e.Reason == reason && e.ObjectName == s.Set.Redis[i].Name);

    [Fact]
    public async Task IsolatedMaster_Fenced_WritesNothingPastGracePlusOneSecond_RejoinsAsReplicaAfterTheHeal()
    {
        await using var s = await StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");

        // Twice: the second partition isolates the master the first one produced, right after the first heal settled.
        for (var round = 0; round < 2; round++)
        {
            var master = (await s.Set.WaitForSettledAsync(Settle)).Ordinal;
            var r = await IsolatedMaster.RunAsync(s, $"r{round}", IsolatedMaster.Grace(s) + TimeSpan.FromSeconds(5), output.WriteLine);

            Assert.Equal(s.Set.Redis[master].Name, r.OldMaster);
            Assert.True(r.FencedAfterCut is not null, $"no Fenced event during the partition\n{s.Diagnostics()}");
            Assert.True(r.FencedMetricWhileCut, "redis_sidecar_fenced was not 1 while the master was isolated");
            Assert.Equal(503, r.ReadyzWhileCut);
            Assert.True(r.WrittenAfterBound == 0,
                $"the fenced master acknowledged {r.WrittenAfterBound} writes later than grace + 1 s after the cut: "
                + string.Join(", ", r.WrittenAfterCut.Where(t => t > r.Bound).Select(t => $"{t.TotalSeconds:0.00} s")));
            Assert.True(r.RefusedWhileCut > 0, "the isolated master never refused a write with -NOREPLICAS");
            Assert.NotEqual(r.OldMaster, r.NewMaster);
            Assert.True(r.ConvertedBySentinel, $"Sentinel did not log +convert-to-slave for {r.OldMaster}");
            Assert.NotNull(r.UnfencedAfterHeal);
            Assert.True(Has(await MetricsAsync(s, master), "redis_sidecar_fenced 0"), "redis_sidecar_fenced still 1 after the heal");
            Assert.True(Has(await MetricsAsync(s, master), "redis_sidecar_fences_total 1"), "one fence per isolation of this pod");
            Assert.Empty(r.MajorityLost);
            Assert.True(r.MajorityAcked > 200);
            Assert.Equal(1, r.MaxMastersLabelled);
            // The fence's setting is back to the configured one (none here), on the node that is a replica now.
            Assert.Equal("0", (string?)(await s.Set.TryExecAsync(s.Set.Redis[master], "CONFIG", "GET", "min-replicas-to-write"))![1]);
        }
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task IsolatedMaster_FenceDisabled_KeepsWritingAndLosesThoseWrites()
    {
        // The control: the same partition without the fence. The isolated master answers OK to writes long after the
        // grace, and every write it took after the cut is gone once Sentinel turns it into a replica.
        await using var s = await StartAsync(fence: false);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");

        var r = await IsolatedMaster.RunAsync(s, "c", IsolatedMaster.Grace(s) + TimeSpan.FromSeconds(5), output.WriteLine);

        Assert.Null(r.FencedAfterCut);
        Assert.False(r.FencedMetricWhileCut);
        Assert.Equal(0, r.RefusedWhileCut);
        Assert.True(r.WrittenAfterBound > 0, "without the fence the isolated master should go on acknowledging writes (the test cannot tell otherwise)");
        Assert.True(r.SentAfterCut > 0, "no write sent after the cut was answered");
        Assert.Equal(r.SentAfterCut, r.SentAfterCutLost);
        Assert.True(r.ConvertedBySentinel);
        Assert.Empty(r.MajorityLost); // WAIT 1 never confirmed the isolated master's writes: the majority side's client lost nothing
        Assert.Equal(1, r.MaxMastersLabelled);
        Assert.Equal(0, Events(s, "Fenced", 0) + Events(s, "Fenced", 1) + Events(s, "Fenced", 2));
    }

    [Fact]
    public async Task FencedMaster_EveryReplicaBackInSync_LiftsTheFenceWhileTheSentinelsStayUnreachable()
    {
        await using var s = await StartAsync();
        var master = s.Set.Redis[0];
        await using var writer = await WriteToMasterAsync(s);

        // The master's Redis loses its replicas, its sidecar loses the Sentinels; the Sentinels still reach the master
        // (so they do not fail over) and the replicas.
        var replicas = s.Set.Redis.Skip(1).Select(n => n.Ip).ToArray();
        using var fromReplicas = await LoopbackPartition.CutAsync("master from its replicas", new PartitionSide([master.Ip]), new PartitionSide(replicas));
        using var fromSentinels = await LoopbackPartition.CutAsync("master's sidecar from the Sentinels", new PartitionSide([], [s.SidecarUid(0)!.Value]), IsolatedMaster.Sentinels(s));
        await s.Set.WaitUntilAsync(() => Task.FromResult(Events(s, "Fenced", 0) == 1), Settle, "redis-0 fenced\n" + s.Diagnostics());
        var refused = writer.Refused;
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Refused > refused + 10), Settle, "writes refused with -NOREPLICAS");

        fromReplicas.Dispose();
        await s.Set.WaitUntilAsync(() => Task.FromResult(Events(s, "Unfenced", 0) == 1), Settle, "redis-0 unfenced with the Sentinels still cut\n" + s.Diagnostics());
        var metrics = await MetricsAsync(s, 0);
        Assert.True(Has(metrics, "redis_sidecar_sentinel_majority_lost 1"), "the sidecar should still see no Sentinel majority:\n" + metrics);
        Assert.True(Has(metrics, "redis_sidecar_fenced 0"), metrics);
        var unfenced = s.Api.Events.Single(e => e.Reason == "Unfenced" && e.ObjectName == master.Name);
        output.WriteLine($"Unfenced: {unfenced.Message}");
        Assert.Contains("every replica", unfenced.Message);
        Assert.Equal(master.Address, await s.Set.AgreedMasterAsync()); // no failover: the Sentinels reached the master throughout
        var acked = writer.Acked.Count;
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > acked + 100), Settle, "writes acknowledged again with the Sentinels still cut");

        fromSentinels.Dispose();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the Sentinels came back");
        await writer.DisposeAsync();
        Assert.Empty(await writer.LostOnAsync(master));
        Assert.Equal(1, Events(s, "Fenced", 0));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task SentinelOutage_EveryReplicaInSync_NoFence_WritesGoOnAcknowledged()
    {
        await using var s = await StartAsync();
        var master = s.Set.Redis[0];
        await using var writer = await WriteToMasterAsync(s);

        // The Sentinels cut from every Redis and every sidecar: nobody can fail over, the replication links are intact.
        var pods = Enumerable.Range(0, s.Set.Redis.Count).ToArray();
        var cut = await LoopbackPartition.CutAsync("Sentinels from everyone", IsolatedMaster.Sentinels(s), IsolatedMaster.Pods(s, pods));
        var cutAt = writer.Elapsed;
        var sw = Stopwatch.StartNew();
        try
        {
            await s.Set.WaitUntilAsync(async () => Has(await MetricsAsync(s, 0), "redis_sidecar_sentinel_majority_lost 1"), Settle, "the master's sidecar lost the Sentinel majority");
            // Long past the grace: a fence would have come by now.
            var past = IsolatedMaster.Grace(s) + TimeSpan.FromSeconds(5);
            await s.Set.WaitUntilAsync(() => Task.FromResult(sw.Elapsed > past), past + Settle, "time past the grace");
            var metrics = await MetricsAsync(s, 0);
            Assert.True(Has(metrics, "redis_sidecar_fenced 0") && Has(metrics, "redis_sidecar_fences_total 0"), metrics);
            Assert.Equal(0, Events(s, "Fenced", 0));
            var late = writer.Acked.Count(a => a.At > cutAt + past - TimeSpan.FromSeconds(2));
            output.WriteLine($"acknowledged (WAIT 1) in the last 2 s of the outage: {late}; refused: {writer.Refused}");
            Assert.True(late > 50, $"writes stopped during the Sentinel outage ({late} acknowledged in its last 2 s)");
            Assert.Equal(0, writer.Refused);
        }
        finally
        {
            cut.Dispose();
        }
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the Sentinels came back");
        Assert.Equal(master.Address, await s.Set.AgreedMasterAsync());
        await writer.DisposeAsync();
        Assert.Empty(await writer.LostOnAsync(master));
        Assert.Equal(0, Events(s, "Fenced", 0));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }
}
