using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>Outages as a client sees them: blackholes, resets, refusals, closed watches, 409/429/5xx.</summary>
public sealed class KubeApiServerOutageTests : KubeApiTestBase
{
    [Fact]
    public async Task Blackhole_RequestIsNeverAnsweredAndAnOpenWatchNeverGetsAnotherEvent()
    {
        Api.AddPod(Ns, "redis-0");
        await using var watch = WatchPods($"resourceVersion={Api.ResourceVersion}");
        await EventuallyAsync(() => Api.OpenWatches == 1, "the watch is open");

        Api.Blackhole();
        using var gaveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns, cancellationToken: gaveUp.Token));
        Api.EndBlackhole();
        Api.SetLabel(Ns, "redis-0", "role", "master");
        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        await using var fresh = WatchPods($"resourceVersion={Api.ResourceVersion - 1}");
        var seenByFresh = await fresh.NextAsync();

        Assert.Equal("master", pod.Metadata.Labels["role"]);
        Assert.Equal(WatchEventKind.Modified, seenByFresh.Kind);
        Assert.Empty(watch.Received()); // the old stream is dead: nothing, not even an end
        Assert.True(watch.IsOpen);
        var held = await EventuallyAsync(() => Api.Requests.FirstOrDefault(r => r.Fault == "blackhole" && r.Verb == "get"), "the held request recorded");
        Assert.Equal(499, held.StatusCode);
    }

    [Fact]
    public async Task ResetNext_ClientSeesAConnectionErrorAndNothingIsApplied()
    {
        Api.AddPod(Ns, "redis-0");
        Api.ResetNext(1, verb: "patch");

        await Assert.ThrowsAsync<HttpRequestException>(() =>
            Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"role":"master"}}}"""), "redis-0", Ns));
        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);

        Assert.False(pod.Metadata.Labels.ContainsKey("role"));
        var reset = await EventuallyAsync(() => Api.Requests.FirstOrDefault(r => r.Fault == "reset"), "the reset recorded");
        Assert.Equal(0, reset.StatusCode);
    }

    [Fact]
    public async Task ResetConnections_BreaksAnOpenWatchMidStream()
    {
        Api.AddPod(Ns, "redis-0");
        await using var watch = WatchPods();
        await watch.NextAsync();

        Assert.True(Api.ResetConnections() >= 1);
        var failure = await watch.EndAsync();

        Assert.True(failure is HttpRequestException or IOException, $"expected a broken stream, got {failure?.GetType().Name ?? "a clean end"}");
    }

    [Fact]
    public async Task RefuseConnections_ConnectIsRefusedUntilAcceptingAgainOnTheSamePort()
    {
        Api.AddPod(Ns, "redis-0");
        var port = Api.BaseAddress.Port;

        await Api.RefuseConnectionsAsync();
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns));
        await Api.AcceptConnectionsAsync();
        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);

        Assert.Equal(SocketError.ConnectionRefused, (refused.InnerException as SocketException)?.SocketErrorCode);
        Assert.Equal("redis-0", pod.Metadata.Name);
        Assert.Equal(port, Api.BaseAddress.Port);
    }

    [Fact]
    public async Task RefuseConnectionsFor_AcceptsAgainByItself()
    {
        await Api.RefuseConnectionsForAsync(TimeSpan.FromMilliseconds(300));

        var list = await EventuallyAsync(() =>
        {
            try
            {
                return Client.CoreV1.ListNamespacedPodAsync(Ns).GetAwaiter().GetResult();
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }, "the double accepting again");

        Assert.NotNull(list.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task CloseWatches_CleanEndsTheStream_AbruptBreaksIt()
    {
        await using var clean = WatchPods("labelSelector=a%3Db");
        await EventuallyAsync(() => Api.OpenWatches == 1, "the first watch is open");
        Api.CloseWatches();
        var cleanEnd = await clean.EndAsync();
        await using var abrupt = WatchPods("labelSelector=a%3Db");
        await EventuallyAsync(() => Api.OpenWatches == 1, "the second watch is open");
        Api.CloseWatches(abrupt: true);
        var abruptEnd = await abrupt.EndAsync();

        Assert.Null(cleanEnd);
        Assert.True(abruptEnd is HttpRequestException or IOException, $"expected a broken stream, got {abruptEnd?.GetType().Name ?? "a clean end"}");
    }

    [Fact]
    public async Task FailNext_429WithRetryAfter_CarriesTheHeaderAndStatusDetails()
    {
        Api.FailNext(1, 429, retryAfterSeconds: 3);
        using var http = RawClient();

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods");
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
        Assert.Equal(3, (int?)status["details"]!["retryAfterSeconds"]);
    }

    [Fact]
    public async Task FailNext_409_AnswersAConflictStatus()
    {
        Api.AddPod(Ns, "redis-0");
        Api.FailNext(1, 409, verb: "patch");

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(Merge("{}"), "redis-0", Ns));

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("Conflict", (string?)status["reason"]);
    }

    [Fact]
    public async Task ClearFaults_EndsBlackholeAndRestoresTheDefaultLatency()
    {
        Api.Latency = TimeSpan.FromSeconds(5);
        Api.Blackhole();

        Api.ClearFaults();
        var list = await Client.CoreV1.ListNamespacedPodAsync(Ns);

        Assert.NotNull(list);
        Assert.Equal(Api.DefaultLatency, Api.Latency);
        Assert.Equal(TimeSpan.FromMilliseconds(4), Api.DefaultLatency);
    }
}
