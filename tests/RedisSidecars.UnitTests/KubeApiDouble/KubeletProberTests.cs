using System.Net;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>
/// The kubelet's readiness probes against a real <c>/readyz</c> (the sidecar's own HTTP endpoints), the pod's
/// Ready condition it writes, and the Service endpoints that follow from it.
/// </summary>
public sealed class KubeletProberTests : KubeApiTestBase
{
    private const string Gate = "redis.io/role-ready";
    private static readonly ProbeSettings Fast = new(TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(500), SuccessThreshold: 2, FailureThreshold: 3);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _servers = [];

    public override async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_servers);
        await base.DisposeAsync();
    }

    /// <summary>A sidecar's HTTP endpoints on loopback whose /readyz answers what <paramref name="ready"/> says.</summary>
    private Uri Readyz(Func<bool> ready)
    {
        var endpoints = new HttpEndpoints(IPAddress.Loopback, 0, new Dictionary<string, Func<string, CancellationToken, Task<HttpReply>>>
        {
            ["/readyz"] = HttpEndpoints.Get(() => ready() ? HttpReply.Plain(200, "ready\n") : HttpReply.Plain(503, "not ready\n")),
        }, NullLogger.Instance);
        endpoints.Start();
        _servers.Add(endpoints.RunAsync(_stop.Token));
        return new Uri($"http://127.0.0.1:{endpoints.Port}/readyz");
    }

    private Task WaitForReadyAsync(string pod, string status) =>
        EventuallyAsync(() => Api.GetConditionStatus(Ns, pod, "Ready") == status, $"{pod} Ready={status}");

    [Fact]
    public async Task ProbeReadiness_StartsNotReadyThenReadyAfterTheSuccessThreshold()
    {
        Api.AddPod(Ns, "redis-0");
        Assert.Equal("True", Api.GetConditionStatus(Ns, "redis-0", "Ready"));

        Api.ProbeReadiness(Ns, "redis-0", Readyz(() => true), Fast);
        Assert.Equal("False", Api.GetConditionStatus(Ns, "redis-0", "Ready"));
        await WaitForReadyAsync("redis-0", "True");

        var readiness = Api.PodStates.Where(s => s.Pod == "redis-0").Select(s => s.Ready).ToList();
        Assert.Equal([true, false, true], readiness); // created ready, the new probe makes it unready, then the threshold
        Assert.Equal("True", Api.GetConditionStatus(Ns, "redis-0", "ContainersReady"));
    }

    [Fact]
    public async Task ProbeReadiness_FailuresBeyondTheThresholdMakeThePodNotReadyAndRecordTheInstant()
    {
        var ready = true;
        Api.AddPod(Ns, "redis-0");
        Api.ProbeReadiness(Ns, "redis-0", Readyz(() => Volatile.Read(ref ready)), Fast);
        await WaitForReadyAsync("redis-0", "True");

        Volatile.Write(ref ready, false);
        await WaitForReadyAsync("redis-0", "False");

        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        var condition = pod.Status.Conditions.Single(c => c.Type == "Ready");
        Assert.Equal("ContainersNotReady", condition.Reason);
        Assert.Equal("containers with unready status: [redis-sidecar]", condition.Message);
        Assert.Equal(2, Api.Endpoints(Ns, "app=redis").WentNotReady("redis-0").Count); // created ready: one drop at probe start, one now
    }

    [Fact]
    public async Task ReadyCondition_NeedsTheReadinessGateTooAndFollowsTheGateConditionAtOnce()
    {
        Api.AddPod(Ns, "redis-0", null, [Gate]);
        Api.ProbeReadiness(Ns, "redis-0", Readyz(() => true), Fast);
        Assert.Equal("False", Api.GetConditionStatus(Ns, "redis-0", "ContainersReady"));
        await EventuallyAsync(() => Api.GetConditionStatus(Ns, "redis-0", "ContainersReady") == "True", "containers ready");
        Assert.Equal("False", Api.GetConditionStatus(Ns, "redis-0", "Ready"));

        await Client.CoreV1.PatchNamespacedPodStatusAsync(new k8s.Models.V1Patch(
            $$$"""{"status":{"conditions":[{"type":"{{{Gate}}}","status":"True"}]}}""", k8s.Models.V1Patch.PatchType.StrategicMergePatch), "redis-0", Ns);

        Assert.Equal("True", Api.GetConditionStatus(Ns, "redis-0", "Ready"));
        Api.SetCondition(Ns, "redis-0", Gate, "False");
        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        var condition = pod.Status.Conditions.Single(c => c.Type == "Ready");
        Assert.Equal(("False", "ReadinessGatesNotReady"), (condition.Status, condition.Reason));
        Assert.Equal($"the status of pod readiness gate \"{Gate}\" is not \"True\", but False", condition.Message);
    }

    [Fact]
    public async Task RecreatedPod_StartsNotReadyUntilItsProbeSucceedsAgain()
    {
        var ready = true;
        Api.AddStatefulSet(Ns, "redis", 1);
        Api.ProbeReadiness(Ns, "redis-0", Readyz(() => Volatile.Read(ref ready)), Fast);
        await WaitForReadyAsync("redis-0", "True");

        Volatile.Write(ref ready, false);
        Api.RecreatePod(Ns, "redis-0");
        Assert.Equal("False", Api.GetConditionStatus(Ns, "redis-0", "Ready"));
        Volatile.Write(ref ready, true);
        await WaitForReadyAsync("redis-0", "True");
    }

    [Fact]
    public async Task Endpoints_ReadyMasterHandedOver_NeverTwoAndTheGapIsMeasured()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=master"));
        Api.AddPod(Ns, "redis-1", Labels("role=replica"));

        Api.SetLabel(Ns, "redis-0", "role", "replica");
        await Task.Delay(50);
        Api.SetLabel(Ns, "redis-1", "role", "master");
        var endpoints = Api.Endpoints(Ns, "role=master");

        Assert.False(endpoints.EverTwoReady);
        Assert.Equal([["redis-0"], [], ["redis-1"]], endpoints.Changes.Select(c => c.Ready));
        var gap = endpoints.LongestWithoutReady(endpoints.Changes[0].Elapsed);
        Assert.True(gap >= TimeSpan.FromMilliseconds(40), $"gap {gap}");
        Assert.Equal(endpoints.Changes[2].Elapsed - endpoints.Changes[1].Elapsed, gap);
        Assert.Equal([endpoints.Changes[1].Elapsed], endpoints.LeftEndpoints("redis-0"));
    }

    [Fact]
    public void Endpoints_TerminatingPodLeavesTheEndpointsWhileStillReady()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=master"));

        Api.MarkTerminating(Ns, "redis-0");
        var endpoints = Api.Endpoints(Ns, "role=master");

        Assert.Equal([["redis-0"], []], endpoints.Changes.Select(c => c.Ready));
        Assert.Empty(endpoints.WentNotReady("redis-0"));
    }
}

/// <summary>The endpoints arithmetic on hand-made pod states.</summary>
public sealed class EndpointsTimelineTests
{
    private static PodState S(int ms, string pod, bool ready, string role = "master", bool exists = true, bool terminating = false) =>
        new(TimeSpan.FromMilliseconds(ms), DateTimeOffset.UnixEpoch, "ns", pod, exists, new Dictionary<string, string> { ["role"] = role }, ready, terminating);

    [Fact]
    public void LongestWithoutReady_OpenGapAtTheEnd_CountsUpToUntil()
    {
        var t = new EndpointsTimeline("ns", "role=master", [S(0, "a", true), S(100, "a", false)], TimeSpan.FromMilliseconds(400));

        Assert.Equal(TimeSpan.FromMilliseconds(300), t.LongestWithoutReady());
        Assert.Equal(TimeSpan.FromMilliseconds(50), t.LongestWithoutReady(TimeSpan.Zero, TimeSpan.FromMilliseconds(150)));
    }

    [Fact]
    public void LongestWithoutReady_WindowStartingInsideAGap_CountsFromTheWindowStart()
    {
        var t = new EndpointsTimeline("ns", "role=master", [S(0, "a", false), S(500, "a", true)], TimeSpan.FromMilliseconds(600));

        Assert.Equal(TimeSpan.FromMilliseconds(500), t.LongestWithoutReady());
        Assert.Equal(TimeSpan.FromMilliseconds(100), t.LongestWithoutReady(TimeSpan.FromMilliseconds(400)));
        Assert.Equal(TimeSpan.Zero, t.LongestWithoutReady(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public void MaxReadyAtOnce_OverlapOfTwoReadyMasters_IsTwo()
    {
        var t = new EndpointsTimeline("ns", "role=master",
            [S(0, "a", true), S(10, "b", true), S(20, "a", true, role: "replica"), S(30, "b", false, exists: false)], TimeSpan.FromMilliseconds(40));

        Assert.Equal(2, t.MaxReadyAtOnce);
        Assert.True(t.EverTwoReady);
        Assert.Equal([TimeSpan.FromMilliseconds(30)], t.WentNotReady("b"));
        Assert.Equal([TimeSpan.FromMilliseconds(20)], t.LeftEndpoints("a"));
        Assert.Equal(["b"], t.ReadyAt(TimeSpan.FromMilliseconds(25)));
    }

    [Fact]
    public void Changes_OtherNamespaceAndNonMatchingPods_AreIgnored()
    {
        var other = S(0, "x", true) with { Namespace = "other" };

        var t = new EndpointsTimeline("ns", "role=master", [other, S(5, "r", true, role: "replica")], TimeSpan.FromMilliseconds(10));

        Assert.Empty(t.Changes);
        Assert.Equal(TimeSpan.FromMilliseconds(10), t.LongestWithoutReady());
    }
}
