using RedisSidecars.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Sidecar;

public sealed class HandoverAndVerifyTests(ITestOutputHelper output)
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    const string L = SidecarSet.Label, M = SidecarSet.Master;

    static Node? Labelled(SidecarSet s) => s.MasterLabelled() is [var i] ? s.Set.Redis[i] : null;

    [Fact]
    public async Task Handover_PooledWaitOneWriter_LosesNoAcknowledgedWrite()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        await using var writer = new AckedWriter(() => Labelled(s), s.Set);
        writer.Start();
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 200), Settle, "writer running");

        var (code, body) = await s.HandoverAsync(0, TimeSpan.FromSeconds(30));
        output.WriteLine(body);
        Assert.Equal(200, code);
        Assert.StartsWith("HandedOver", body);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the handover");
        var newMaster = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
        Assert.NotEqual(s.Set.Redis[0], newMaster);
        var countAfter = writer.Acked.Count;
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > countAfter + 200), Settle, "writer continues on the new master");
        await writer.DisposeAsync();

        var lost = await writer.LostOnAsync(newMaster);
        output.WriteLine($"acked={writer.Acked.Count} lost={lost.Count} gap={writer.LongestGap().TotalMilliseconds:0} ms errors={writer.Errors} reconnects={writer.Reconnects}");
        Assert.Empty(lost);
        Assert.True(writer.LongestGap() < TimeSpan.FromSeconds(10), $"write gap {writer.LongestGap()}");
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));

        // Again, now on a pod that is not master: returns at once, changes nothing.
        var again = await s.HandoverAsync(0);
        Assert.Equal(200, again.Code);
        Assert.StartsWith("NotMaster", again.Body);
        Assert.Equal(newMaster.Address, await s.Set.AgreedMasterAsync());
    }

    [Fact]
    public async Task Sigterm_OnMaster_HandsOverThenExitsZero()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var code = await s.TerminateSidecarAsync(0, TimeSpan.FromSeconds(30));
        Assert.Equal(0, code);
        Assert.NotEqual(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
        Assert.NotEqual(M, s.LabelOf(0));
        await s.Set.WaitUntilAsync(() => Task.FromResult(s.MasterLabelled().Length == 1 && s.MasterLabelled()[0] != 0), Settle, "new master labelled");
        Assert.Equal(1, s.Api.Timeline.MaxConcurrent(L, M));
        Assert.Contains("handover: HandedOver", File.ReadAllText(s.SidecarLog(0)));
    }

    [Fact]
    public async Task Sigterm_OnReplica_ExitsAtOnceWithoutFailover()
    {
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, await s.TerminateSidecarAsync(2, TimeSpan.FromSeconds(10)));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"replica sidecar took {sw.Elapsed} to stop");
        Assert.Equal(s.Set.Redis[0].Address, await s.Set.AgreedMasterAsync());
    }

    [Fact]
    public async Task Verify_HealthySet_AllChecksPassAndExitZero()
    {
        await using var s = await SidecarSet.StartAsync(password: "verify#pw$");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        var env = VerifyEnv(s);
        var (code, stdout, stderr) = await Tools.RunAsync(Tools.RedisSidecar, ["verify"], env, TimeSpan.FromSeconds(30));
        output.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        Assert.DoesNotContain("✗", stdout);
        foreach (var sentinel in s.Set.Sentinels) Assert.Contains($"✓ sentinel {sentinel.Address} reachable", stdout);
        Assert.Contains($"✓ master agreed: {s.Set.Redis[0].Address} (3/3 Sentinels)", stdout);
        Assert.Contains("✓ unauthenticated access refused", stdout);
        Assert.Contains("✓ GET returned the value", stdout);
        Assert.Contains("✓ the key is gone", stdout);
        Assert.Contains("✓ exactly one pod labelled redis-role=master: redis-0", stdout);
        Assert.Contains("✓ the labelled pod redis-0 is the Sentinels' master", stdout);
        Assert.DoesNotContain("verify#pw$", stdout + stderr);
    }

    [Fact]
    public async Task Verify_Broken_ReportsEachFailureAndExitsNonZero()
    {
        await using var s = await SidecarSet.StartAsync(password: "right");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        s.KillSidecar(1);
        s.Api.SetLabel(SidecarSet.Namespace, "redis-1", L, M); // two pods labelled master
        s.Set.Kill(s.Set.Sentinels[2]);
        var env = VerifyEnv(s);
        env.Remove("REDIS_PASSWORD_FILE");
        env["REDIS_PASSWORD"] = "wrong";
        var (code, stdout, _) = await Tools.RunAsync(Tools.RedisSidecar, ["verify"], env, TimeSpan.FromSeconds(30));
        output.WriteLine(stdout);
        Assert.Equal(1, code);
        Assert.Contains($"✗ sentinel {s.Set.Sentinels[2].Address}: unreachable", stdout);
        Assert.Contains("✗ connect/authenticate to master", stdout);
        Assert.Contains("✗ 2 pods labelled redis-role=master (expected exactly one): redis-0,redis-1", stdout);
        Assert.DoesNotContain("wrong", stdout);
    }

    static Dictionary<string, string> VerifyEnv(SidecarSet s)
    {
        var env = s.EnvFor(0);
        env.Remove("POD_NAME");
        env.Remove("ANNOUNCE_HOST");
        env.Remove("HTTP_PORT");
        return env;
    }
}
