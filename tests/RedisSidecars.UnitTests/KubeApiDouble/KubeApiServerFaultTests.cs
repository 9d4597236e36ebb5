using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

public sealed class KubeApiServerFaultTests : KubeApiTestBase
{
    [Fact]
    public async Task FailNext_Two503s_FailsTwiceThenServesAndRecordsEach()
    {
        Api.AddPod(Ns, "redis-0");
        Api.FailNext(2, 503);

        var first = await FailureOf(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns));
        var second = await FailureOf(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns));
        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.Code);
        Assert.Equal("ServiceUnavailable", (string?)second.Status["reason"]);
        Assert.Equal("redis-0", pod.Metadata.Name);
        Assert.Equal([503, 503, 200], Api.Requests.Select(r => r.StatusCode));
        Assert.Equal(["fail 503", "fail 503", null], Api.Requests.Select(r => r.Fault));
    }

    [Fact]
    public async Task FailNext_VerbAndPathFilter_FailsOnlyMatchingRequests()
    {
        Api.AddPod(Ns, "redis-0");
        Api.FailNext(1, 500, "patch", "/status");

        await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        await Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"a":"b"}}}"""), "redis-0", Ns);
        var (code, _) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodStatusAsync(Merge("""{"status":{}}"""), "redis-0", Ns));
        await Client.CoreV1.PatchNamespacedPodStatusAsync(Merge("""{"status":{"phase":"Running"}}"""), "redis-0", Ns);

        Assert.Equal(HttpStatusCode.InternalServerError, code);
        Assert.Equal([200, 200, 500, 200], Api.Requests.Select(r => r.StatusCode));
    }

    [Fact]
    public async Task FailNext_429_CarriesRetryAfterOneSecond()
    {
        Api.FailNext(1, 429);
        using var http = RawClient();

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("TooManyRequests", (string?)status["reason"]);
    }

    [Fact]
    public async Task Forbid_PatchPodsStatus_Returns403InRbacWordingUntilAllowed()
    {
        Api.AddPod(Ns, "redis-0");
        Api.Forbid("patch", "pods/status");
        var patch = Merge("""{"status":{"conditions":[{"type":"X","status":"True"}]}}""");

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodStatusAsync(patch, "redis-0", Ns));
        await Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"a":"b"}}}"""), "redis-0", Ns);
        Api.Allow("patch", "pods/status");
        await Client.CoreV1.PatchNamespacedPodStatusAsync(patch, "redis-0", Ns);

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal("Forbidden", (string?)status["reason"]);
        Assert.Equal(
            $"pods \"redis-0\" is forbidden: User \"system:serviceaccount:{Ns}:redis-sidecar\" cannot patch resource \"pods/status\" in API group \"\" in the namespace \"{Ns}\"",
            (string?)status["message"]);
        Assert.Equal([403, 200, 200], Api.Requests.Select(r => r.StatusCode));
    }

    [Fact]
    public async Task HangNext_ClientGivesUp_RequestRecordedAs499AndNotApplied()
    {
        Api.AddPod(Ns, "redis-0");
        Api.HangNext(1, TimeSpan.FromMinutes(5));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var started = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.CoreV1.PatchNamespacedPodAsync(
            Merge("""{"metadata":{"labels":{"role":"master"}}}"""), "redis-0", Ns, cancellationToken: cts.Token));
        var recorded = await EventuallyAsync(() => Api.Requests.SingleOrDefault(), "the abandoned request recorded");

        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30));
        Assert.Equal((499, "hang"), (recorded.StatusCode, recorded.Fault));
        Assert.Null(Api.GetLabel(Ns, "redis-0", "role"));
    }

    [Fact]
    public async Task HangNext_ReleasedByClearFaults_RequestIsServed()
    {
        Api.AddPod(Ns, "redis-0");
        Api.HangNext(1, TimeSpan.FromMinutes(5));

        var read = Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        await Task.Delay(200);
        Assert.False(read.IsCompleted);
        Api.ClearFaults();
        var pod = await read.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("redis-0", pod.Metadata.Name);
        Assert.Equal((200, "hang"), (Api.Requests.Single().StatusCode, Api.Requests.Single().Fault));
    }

    [Fact]
    public async Task Latency_Set_DelaysEveryResponseAtLeastThatLong()
    {
        Api.AddPod(Ns, "redis-0");
        Api.Latency = TimeSpan.FromMilliseconds(300);

        var started = Stopwatch.StartNew();
        await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);

        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(290), $"answered after {started.Elapsed}");
    }

    [Fact]
    public async Task UnmodelledPath_Returns404StatusAndIsRecordedAsUnexpected()
    {
        using var http = RawClient();

        using var response = await http.DeleteAsync($"/api/v1/namespaces/{Ns}/pods/redis-0");
        using var services = await http.GetAsync($"/api/v1/namespaces/{Ns}/services/redis");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("NotFound", (string?)JsonNode.Parse(await services.Content.ReadAsStringAsync())!["reason"]);
        Assert.Equal(["DELETE", "GET"], Api.UnexpectedRequests.Select(r => r.Method));
    }

    [Fact]
    public async Task Request_WithoutBearerToken_Returns401()
    {
        Api.AddPod(Ns, "redis-0");
        using var http = RawClient(withToken: false);

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods/redis-0");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AdminFail_CountViaHttp_FailsNextRequests()
    {
        Api.AddPod(Ns, "redis-0");
        using var http = RawClient(withToken: false);

        using var admin = await http.PostAsync("/_double/fail?status=503&count=1", null);
        var (code, _) = await FailureOf(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns));
        await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        var requests = JsonNode.Parse(await http.GetStringAsync("/_double/requests"))!.AsArray();

        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);
        Assert.Equal([503, 200], requests.Select(r => (int)r!["status"]!));
    }
}

/// <summary>Time-based faults driven by a fake clock: no sleeping.</summary>
public sealed class KubeApiServerFailUntilTests : KubeApiTestBase
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2030-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    protected override TimeProvider? Time => _clock;

    [Fact]
    public async Task FailUntil_TenSeconds_FailsUntilTheClockPassesIt()
    {
        Api.AddPod(Ns, "redis-0");
        Api.FailUntil(TimeSpan.FromSeconds(10), 503);

        var (early, _) = await FailureOf(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns));
        _clock.Advance(TimeSpan.FromSeconds(9));
        var (later, _) = await FailureOf(() => Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns));
        _clock.Advance(TimeSpan.FromSeconds(2));
        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);

        Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable), (early, later));
        Assert.Equal("redis-0", pod.Metadata.Name);
    }
}
