using System.Net;
using k8s;
using k8s.Models;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

public sealed class KubeApiServerEventTests : KubeApiTestBase
{
    private static V1ObjectReference PodRef(string name) => new() { Kind = "Pod", Name = name, NamespaceProperty = Ns, ApiVersion = "v1" };

    [Fact]
    public async Task CreateNamespacedEvent_CoreV1WithGenerateName_Returns201ObjectAndRecordsIt()
    {
        var created = await Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "redis-0." },
            InvolvedObject = PodRef("redis-0"),
            Reason = "RoleChanged",
            Message = "replica -> master",
            Type = "Normal",
        }, Ns);
        var listed = await Client.CoreV1.ListNamespacedEventAsync(Ns);

        Assert.StartsWith("redis-0.", created.Metadata.Name, StringComparison.Ordinal);
        Assert.Equal("redis-0.".Length + 5, created.Metadata.Name.Length);
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));
        var recorded = Assert.Single(Api.Events);
        Assert.Equal(("", created.Metadata.Name, "RoleChanged", "Normal", "replica -> master", "redis-0"),
            (recorded.ApiGroup, recorded.Name, recorded.Reason, recorded.Type, recorded.Message, recorded.ObjectName));
        Assert.Equal(created.Metadata.Name, Assert.Single(listed.Items).Metadata.Name);
        Assert.Equal(201, Api.Requests.First().StatusCode);
    }

    [Fact]
    public async Task CreateNamespacedEvent_EventsV1Complete_IsStoredAndRecorded()
    {
        var created = await Client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "redis-1." },
            EventTime = DateTime.UtcNow,
            ReportingController = "redis-sidecar",
            ReportingInstance = "redis-1",
            Action = "Label",
            Reason = "Demoted",
            Type = "Warning",
            Note = "master -> replica",
            Regarding = PodRef("redis-1"),
        }, Ns);

        var recorded = Assert.Single(Api.Events);
        Assert.Equal(("events.k8s.io", "Demoted", "master -> replica", "redis-1"),
            (recorded.ApiGroup, recorded.Reason, recorded.Message, recorded.ObjectName));
        Assert.Equal(created.Metadata.Name, recorded.Name);
        Assert.Equal("events.k8s.io/v1", created.ApiVersion);
    }

    [Fact]
    public async Task CreateNamespacedEvent_EventsV1WithoutEventTimeOrController_Returns422()
    {
        var (code, status) = await FailureOf(() => Client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
        {
            Metadata = new V1ObjectMeta { Name = "e1" },
            Action = "Label",
            Reason = "Demoted",
            Type = "Normal",
            Regarding = PodRef("redis-1"),
        }, Ns));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Contains("eventTime: Required value", (string?)status["message"], StringComparison.Ordinal);
        Assert.Contains("reportingController: Required value", (string?)status["message"], StringComparison.Ordinal);
        Assert.Empty(Api.Events);
    }

    [Fact]
    public async Task CreateNamespacedEvent_SameNameTwice_Returns409AlreadyExists()
    {
        var ev = new Corev1Event { Metadata = new V1ObjectMeta { Name = "fixed" }, InvolvedObject = PodRef("redis-0"), Reason = "R" };
        await Client.CoreV1.CreateNamespacedEventAsync(ev, Ns);

        var (code, status) = await FailureOf(() => Client.CoreV1.CreateNamespacedEventAsync(ev, Ns));

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("AlreadyExists", (string?)status["reason"]);
        Assert.Single(Api.Events);
    }
}
