using System.Diagnostics;
using RedisSidecars.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Sidecar;

/// <summary>
/// A fault landing while the previous one's aftermath is still there: a handover right after the Sentinels were paused
/// (TILT), a handover with the API unreachable, API and Sentinel outages longer than the liveness window.
/// </summary>
public sealed class CompoundFaultTests(ITestOutputHelper output)
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    const string L = SidecarSet.Label, M = SidecarSet.Master;

    static Node? Labelled(SidecarSet s) => s.MasterLabelled() is [var i] ? s.Set.Redis[i] : null;

    /// <summary>Pauses every Sentinel past Sentinel's TILT trigger (2 s between two timer runs), resumes them, and proves they are in TILT.</summary>
    static async Task PauseSentinelsIntoTiltAsync(SidecarSet s)
    {
        foreach (var sentinel in s.Set.Sentinels) s.Set.Pause(sentinel);
        await Task.Delay(TimeSpan.FromSeconds(3));
        foreach (var sentinel in s.Set.Sentinels) s.Set.Resume(sentinel);
        await s.Set.WaitUntilAsync(async () =>
        {
            foreach (var sentinel in s.Set.Sentinels)
                if (!((await s.Set.TryExecAsync(sentinel, "INFO", "sentinel"))?.ToString() ?? "").Contains("sentinel_tilt:1", StringComparison.Ordinal)) return false;
            return true;
        }, TimeSpan.FromSeconds(10), "every Sentinel reports sentinel_tilt:1");
    }

    static async Task<AckedWriter> StartWriterAsync(SidecarSet s)
    {
        var writer = new AckedWriter(() => Labelled(s), s.Set);
        writer.Start();
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 200), Settle, "writer running");
        return writer;
    }

    async Task<IReadOnlyList<long>> StopAndCountLostAsync(SidecarSet s, AckedWriter writer)
    {
        var count = writer.Acked.Count;
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > count + 100), Settle, "writer acknowledged on the current master");
        await writer.DisposeAsync();
        var master = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
        var lost = await writer.LostOnAsync(master);
        output.WriteLine($"acked={writer.Acked.Count} lost={lost.Count} longest write gap={writer.LongestGap().TotalMilliseconds:0} ms errors={writer.Errors}");
        return lost;
    }

    [Fact]
    public async Task Handover_RightAfterSentinelsWereInTilt_NeverPausesIntoALateFailover()
    {
        // The bound (15 s in tests) ends before TILT does (30 s): no Sentinel can act now, so the handover must not pause
        // writes or leave a FAILOVER behind that a Sentinel would act on once TILT ends.
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var writer = await StartWriterAsync(s);
        await PauseSentinelsIntoTiltAsync(s);

        var (code, body) = await s.HandoverAsync(0);
        output.WriteLine(body);
        Assert.Equal(500, code);
        Assert.StartsWith("NoSentinelReady", body);
        Assert.Contains("TILT", body);

        // TILT ends; nothing happens by itself: no failover was left behind.
        await s.Set.WaitUntilAsync(async () => !((await s.Set.TryExecAsync(s.Set.Sentinels[0], "INFO", "sentinel"))?.ToString() ?? "").Contains("sentinel_tilt:1", StringComparison.Ordinal),
            TimeSpan.FromSeconds(45), "TILT over");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
        Assert.Empty(await StopAndCountLostAsync(s, writer));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task Handover_RightAfterSentinelsWereInTilt_WaitsForTiltToEndThenHandsOver()
    {
        await using var s = await SidecarSet.StartAsync(sidecarEnv: new Dictionary<string, string> { ["HANDOVER_TIMEOUT_MS"] = "45000" });
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var writer = await StartWriterAsync(s);
        await PauseSentinelsIntoTiltAsync(s);

        var (code, body) = await s.HandoverAsync(0, TimeSpan.FromSeconds(60));
        output.WriteLine(body);
        Assert.Equal(200, code);
        Assert.StartsWith("HandedOver", body);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the handover");
        Assert.NotEqual(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
        Assert.Empty(await StopAndCountLostAsync(s, writer));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task Handover_WhileTheReplicasReconnect_WaitsForOneThenHandsOverAndLosesNoWrite()
    {
        // The aftermath of a failover (the old master and the other replica resync) or of a network blip: for a moment no
        // replica is attached to the master, while the Sentinels hold both up. A pod stopping then must still hand over
        // (waiting, within the bound, for a replica) rather than stop as master and leave the set to a forced failover.
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var writer = await StartWriterAsync(s);
        var master = s.Set.Redis[0];
        var replicas = s.Set.Redis.Where(n => n != master).Select(n => n.Ip).ToArray();
        Task<(int Code, string Body)> handover;
        using (var cut = await LoopbackPartition.CutAsync("the master from its replicas", new PartitionSide([master.Ip]), new PartitionSide(replicas)))
        {
            // The master drops its replicas; they cannot reconnect until the heal (the Sentinels still reach everyone).
            Assert.NotNull(await s.Set.TryExecAsync(master, "CLIENT", "KILL", "TYPE", "replica"));
            await s.Set.WaitUntilAsync(async () => await s.Set.ReplicationAsync(master) is { Replicas: null or { Count: 0 } }, Settle, "no replica attached to the master");
            handover = s.HandoverAsync(0);
            await Task.Delay(TimeSpan.FromSeconds(2));
            if (handover.IsCompleted) Assert.Fail("the handover answered while no replica could attach: " + (await handover).Body);
        }

        var (code, body) = await handover;
        output.WriteLine(body);
        Assert.Equal(200, code);
        Assert.StartsWith("HandedOver", body);
        Assert.Contains("no online replica yet, but Sentinel holds", File.ReadAllText(s.SidecarLog(0)));
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the handover");
        Assert.NotEqual(master.Address, await s.Set.AgreedMasterAsync());
        Assert.Empty(await StopAndCountLostAsync(s, writer));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task Handover_WithTheApiUnreachable_HandsOverWithoutIt()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var writer = await StartWriterAsync(s);
        s.Api.HangNext(1_000_000, TimeSpan.FromSeconds(20)); // every request hangs, as with a blackholed API server

        var sw = Stopwatch.StartNew();
        var handover = s.HandoverAsync(0);
        var unreadyWhileHandingOver = false;
        while (!handover.IsCompleted)
        {
            // Readiness drops at once through /readyz: no API call stands before it.
            if ((await s.HttpAsync(0, "GET", "/readyz")).Code == 503 && !handover.IsCompleted) unreadyWhileHandingOver = true;
            await Task.Delay(20);
        }
        var (code, body) = await handover;
        output.WriteLine($"{body.Trim()} (answered after {sw.ElapsedMilliseconds} ms)");
        Assert.Equal(200, code);
        Assert.StartsWith("HandedOver", body);
        Assert.True(unreadyWhileHandingOver, "/readyz never answered 503 during the handover");
        Assert.NotEqual(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());

        // The API comes back: the labels follow Sentinel, never two masters.
        s.Api.ClearFaults();
        await s.WaitForLabelsToMatchSentinelsAsync(TimeSpan.FromSeconds(60), "labels after the API returned");
        Assert.Empty(await StopAndCountLostAsync(s, writer));
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    [Fact]
    public async Task ApiAndSentinelOutages_LongerThanTheLivenessWindow_RestartNothing()
    {
        var env = new Dictionary<string, string> { ["LIVENESS_TIMEOUT_MS"] = "3000" };
        await using var s = await SidecarSet.StartAsync(sidecarEnv: env);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");

        // API outage (every request hangs) of four liveness windows, with a failover in the middle of it.
        s.Api.HangNext(1_000_000, TimeSpan.FromSeconds(12));
        var probing = ProbeLivezAsync(s, TimeSpan.FromSeconds(12));
        Assert.Equal("OK", (await s.Set.TryExecAsync(s.Set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
        var failures = await probing;
        Assert.True(failures.Count == 0, "/livez failed during the API outage: " + string.Join("; ", failures));
        s.Api.ClearFaults();
        await s.WaitForLabelsToMatchSentinelsAsync(TimeSpan.FromSeconds(60), "labels repaired when the API returned");

        // Sentinel outage of four liveness windows.
        foreach (var sentinel in s.Set.Sentinels) s.Set.Kill(sentinel);
        failures = await ProbeLivezAsync(s, TimeSpan.FromSeconds(12));
        Assert.True(failures.Count == 0, "/livez failed during the Sentinel outage: " + string.Join("; ", failures));
        foreach (var sentinel in s.Set.Sentinels) s.Set.StartServer(sentinel);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the Sentinels returned");

        for (var i = 0; i < s.Set.Redis.Count; i++) Assert.False(s.Sidecar(i)!.HasExited, $"sidecar {i} exited");
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
    }

    /// <summary>/livez on every sidecar every 200 ms for <paramref name="duration"/>; the failures seen.</summary>
    static async Task<List<string>> ProbeLivezAsync(SidecarSet s, TimeSpan duration)
    {
        var failures = new List<string>();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < duration)
        {
            for (var i = 0; i < s.Set.Redis.Count; i++)
            {
                try
                {
                    var (code, body) = await s.HttpAsync(i, "GET", "/livez", TimeSpan.FromSeconds(2));
                    if (code != 200) failures.Add($"sidecar {i} at {sw.Elapsed.TotalSeconds:0.0}s: {code} {body.Trim()}");
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    failures.Add($"sidecar {i} at {sw.Elapsed.TotalSeconds:0.0}s: {e.GetType().Name}");
                }
            }
            await Task.Delay(200);
        }
        return failures;
    }
}
