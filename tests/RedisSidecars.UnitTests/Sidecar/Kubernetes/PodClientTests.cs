using System.Net;
using k8s;
using Microsoft.Extensions.Logging;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar.Kubernetes;

/// <summary>The writes against the API double: patch formats, bounds, retries only for transient faults, 403s, events.</summary>
public sealed class PodClientTests : KubeEdgeTestBase
{
    /// <summary>Short backoffs; bounds generous enough for a loaded machine (the tests about bounds set their own).</summary>
    private static readonly PodWriteOptions Quick = new()
    {
        AttemptTimeout = TimeSpan.FromSeconds(5),
        TotalTimeout = TimeSpan.FromSeconds(20),
        MaxRetries = 5,
        InitialBackoff = TimeSpan.FromMilliseconds(10),
        MaxBackoff = TimeSpan.FromMilliseconds(100),
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        AddSet();
    }

    private int Writes => Api.Requests.Count(r => r.IsWrite);

    [Fact]
    public async Task SetRoleLabelAsync_MergePatchSetsThenNullRemovesOnlyThatLabel()
    {
        var writer = Writer(options: Quick);

        await writer.SetRoleLabelAsync("master", CancellationToken.None);
        Assert.Equal("master", Api.GetLabel(Ns, "redis-0", Role));
        await writer.SetRoleLabelAsync(null, CancellationToken.None);

        Assert.Null(Api.GetLabel(Ns, "redis-0", Role));
        Assert.Equal("redis", Api.GetLabel(Ns, "redis-0", "app"));
        Assert.All(Api.Requests.Where(r => r.IsWrite), r => Assert.StartsWith("application/merge-patch+json", r.ContentType, StringComparison.Ordinal));
        Assert.Equal(2, Metrics.LabelPatches.Value);
    }

    [Fact]
    public async Task SetReadinessConditionAsync_StrategicMergeKeepsTheKubeletsConditions()
    {
        var writer = Writer(options: Quick);

        await writer.SetReadinessConditionAsync(true, "Master", "master with 2 replicas", CancellationToken.None);

        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        Assert.Equal(6, pod.Status.Conditions.Count);
        var ours = pod.Status.Conditions.Single(c => c.Type == Gate);
        Assert.Equal(("True", "Master"), (ours.Status, ours.Reason));
        Assert.Equal("True", pod.Status.Conditions.Single(c => c.Type == "Ready").Status); // the kubelet saw the gate
        Assert.StartsWith("application/strategic-merge-patch+json", Api.Requests.Single(r => r.IsWrite).ContentType, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetRoleLabelAsync_Transient503sAndAConnectionReset_RetriedUntilItSucceeds()
    {
        Api.FailNext(2, 503, verb: "patch");
        Api.ResetNext(1, verb: "patch");

        await Writer(options: Quick).SetRoleLabelAsync("master", CancellationToken.None);

        Assert.Equal("master", Api.GetLabel(Ns, "redis-0", Role));
        Assert.Equal(4, Writes);
        Assert.Equal(3, Metrics.ApiErrors.Value);
    }

    [Fact]
    public async Task SetRoleLabelAsync_429WithRetryAfter_WaitsAndRetries()
    {
        Api.FailNext(1, 429, verb: "patch", retryAfterSeconds: 1);
        var started = System.Diagnostics.Stopwatch.StartNew();

        await Writer(options: Quick with { MaxBackoff = TimeSpan.FromSeconds(2) }).SetRoleLabelAsync("master", CancellationToken.None);

        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(950), $"retried after {started.Elapsed}, before Retry-After");
        Assert.Equal(2, Writes);
    }

    [Fact]
    public async Task SetRoleLabelAsync_HungAttempt_TimesOutAndTheRetrySucceeds()
    {
        Api.HangNext(1, TimeSpan.FromMinutes(5), verb: "patch");

        await Writer(options: Quick with { AttemptTimeout = TimeSpan.FromSeconds(1), MaxRetries = 10 }).SetRoleLabelAsync("master", CancellationToken.None);

        Assert.Equal("master", Api.GetLabel(Ns, "redis-0", Role));
        await EventuallyAsync(() => Api.Requests.Any(r => r is { Fault: "hang", StatusCode: 499 }), "the abandoned attempt recorded");
    }

    [Fact]
    public async Task SetRoleLabelAsync_ApiDownLongerThanTheTotalBound_ThrowsPodApiException()
    {
        Api.FailUntil(TimeSpan.FromMinutes(5), 503, verb: "patch");

        var e = await Assert.ThrowsAsync<PodApiException>(() =>
            Writer(options: Quick with { MaxRetries = 100, TotalTimeout = TimeSpan.FromSeconds(2) }).SetRoleLabelAsync("master", CancellationToken.None));

        Assert.Contains("patch pods redis-0", e.Message, StringComparison.Ordinal);
        Assert.True(Writes >= 2);
    }

    [Theory]
    [InlineData(422)]
    [InlineData(404)]
    [InlineData(400)]
    public async Task SetRoleLabelAsync_NonTransientAnswer_NotRetried(int status)
    {
        Api.FailNext(1, status, verb: "patch");

        var e = await Assert.ThrowsAsync<PodApiException>(() => Writer(options: Quick).SetRoleLabelAsync("master", CancellationToken.None));

        Assert.Contains($"HTTP {status}", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, Writes);
    }

    [Fact]
    public async Task Forbidden_NotRetriedAndTheMissingRuleLoggedOnce()
    {
        Api.Forbid("patch", "pods/status");
        var writer = Writer(options: Quick);

        await Assert.ThrowsAsync<PodApiException>(() => writer.SetReadinessConditionAsync(true, "Master", "m", CancellationToken.None));
        await Assert.ThrowsAsync<PodApiException>(() => writer.SetReadinessConditionAsync(false, "Replica", "r", CancellationToken.None));

        Assert.Equal(2, Writes);
        var line = Assert.Single(Logger.Lines, l => l.Level == LogLevel.Error);
        Assert.Equal(
            "Kubernetes API forbids patch on pods/status \"redis-0\": the Role needs the rule apiGroups [\"\"], resources [\"pods/status\"], verbs [\"patch\"], resourceNames [\"redis-0\"]",
            line.Text);
    }

    [Fact]
    public async Task RecordEventAsync_CreatesACoreEventForThisPod()
    {
        await Writer(options: Quick).RecordEventAsync("Normal", "RoleChanged", "replica -> master", CancellationToken.None);

        var ev = Assert.Single(Api.Events);
        Assert.Equal(("", "Normal", "RoleChanged", "redis-0"), (ev.ApiGroup, ev.Type, ev.Reason, ev.ObjectName));
        Assert.Equal("replica -> master", ev.Message);
    }

    [Fact]
    public async Task RecordEventAsync_ForbiddenFailingOrBlackholed_NeverThrows()
    {
        var writer = Writer(options: Quick with { AttemptTimeout = TimeSpan.FromMilliseconds(500), TotalTimeout = TimeSpan.FromSeconds(2) });

        Api.Forbid("create", "events");
        await writer.RecordEventAsync("Warning", "A", "a", CancellationToken.None);
        Api.ClearFaults();
        Api.FailUntil(TimeSpan.FromMinutes(5), 500, verb: "create");
        await writer.RecordEventAsync("Warning", "B", "b", CancellationToken.None);
        Api.ClearFaults();
        Api.Blackhole();
        await writer.RecordEventAsync("Warning", "C", "c", CancellationToken.None);

        Assert.Empty(Api.Events);
    }

    [Fact]
    public async Task RecordEventAsync_Cancelled_ThrowsOperationCanceled()
    {
        Api.Blackhole();
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Writer(options: Quick).RecordEventAsync("Normal", "A", "a", cancelled.Token));
    }

    [Fact]
    public async Task ReadPeerLabelsNow_EvenWithASyncedCache_AsksTheApiWithTheCachesList()
    {
        Api.SetLabel(Ns, "redis-1", Role, "master");
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);
        var writer = Writer(watcher, Quick);
        Api.SetLabel(Ns, "redis-1", Role, null);
        var mark = Api.MarkRequests();

        var peers = await writer.ReadPeerLabelsNowAsync(CancellationToken.None);

        Assert.Null(peers["redis-1"]);
        Assert.Equal(1, Api.CountRequestsSince(mark)["list", "pods"]);
        Assert.Equal(0, Api.CountRequestsSince(mark)["get", "pods"]);
    }

    [Fact]
    public async Task ReadPeerLabelsNow_WatchDeadAfterABlackhole_TheFreshListUpdatesTheCache()
    {
        // A blackhole leaves every open watch dead for good (until the idle timeout, long here): the fresh read is then
        // the only news of the peer, and the applier plans from the cache.
        Api.SetLabel(Ns, "redis-1", Role, "master");
        var watcher = StartWatcher(Fast with { IdleTimeout = TimeSpan.FromMinutes(10) });
        await WaitForSyncAsync(watcher);
        for (var i = 0; i < 100 && Api.OpenWatches < 2; i++) await Task.Delay(50); // pods and the StatefulSet
        Assert.Equal(2, Api.OpenWatches);
        Api.Blackhole();
        Api.EndBlackhole();
        Api.SetLabel(Ns, "redis-1", Role, "replica");
        await Task.Delay(300);
        Assert.Equal("master", Peer(watcher.Current, "redis-1").Label(Role)); // the dead watch did not deliver it

        var peers = await Writer(watcher, Quick).ReadPeerLabelsNowAsync(CancellationToken.None);

        Assert.Equal("replica", peers["redis-1"]);
        Assert.Equal("replica", Peer(watcher.Current, "redis-1").Label(Role));
    }

    [Fact]
    public async Task ReadPeerLabelsNow_OneListForEveryPeer_NotThisPod()
    {
        Api.SetLabel(Ns, "redis-0", Role, "replica");
        Api.SetLabel(Ns, "redis-2", Role, "master");
        var mark = Api.MarkRequests();

        var peers = await Writer(options: Quick).ReadPeerLabelsNowAsync(CancellationToken.None);

        Assert.Equal(new Dictionary<string, string?> { ["redis-1"] = null, ["redis-2"] = "master" }, peers);
        Assert.Equal(1, Api.CountRequestsSince(mark)["list", "pods"]);
    }

    [Fact]
    public async Task ReadPeerLabelsNow_ApiUnreachable_Throws()
    {
        var writer = Writer(options: Quick);
        Api.FailUntil(TimeSpan.FromSeconds(30), 503);

        await Assert.ThrowsAsync<PodApiException>(() => writer.ReadPeerLabelsNowAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Writes_UnderTheManifestsRole_Succeed()
    {
        Api.EnforceRole(RoleRules.FromYaml(await File.ReadAllTextAsync(RepoFile("manifests/base/rbac.yaml")), "redis-sidecar"));
        var watcher = StartWatcher();
        var writer = Writer(watcher, Quick);

        var facts = await WaitForSyncAsync(watcher);
        await writer.SetRoleLabelAsync("master", CancellationToken.None);
        await writer.SetReadinessConditionAsync(true, "Master", "m", CancellationToken.None);
        await writer.RecordEventAsync("Normal", "RoleChanged", "m", CancellationToken.None);
        var (otherPod, _) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(
            new k8s.Models.V1Patch("{}", k8s.Models.V1Patch.PatchType.MergePatch), "sentinel-0", Ns));

        Assert.NotNull(facts.UpdateRevision);
        Assert.Equal("master", Api.GetLabel(Ns, "redis-0", Role));
        Assert.Single(Api.Events);
        Assert.Equal(HttpStatusCode.Forbidden, otherPod);
        Assert.DoesNotContain(Api.Requests, r => r.StatusCode == 403 && r.Path != $"/api/v1/namespaces/{Ns}/pods/sentinel-0");
        Assert.DoesNotContain(Logger.Lines, l => l.Level >= LogLevel.Warning);
    }

    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
