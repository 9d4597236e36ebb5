using k8s;
using k8s.Models;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

public sealed class RequestCountsTests : KubeApiTestBase
{
    [Fact]
    public async Task CountRequestsSince_CountsByVerbAndResourceFromTheMarkOn()
    {
        Api.AddStatefulSet(Ns, "redis", 1);
        await Client.CoreV1.ListNamespacedPodAsync(Ns);
        var mark = Api.MarkRequests();

        await Client.CoreV1.ListNamespacedPodAsync(Ns);
        await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        await Client.CoreV1.PatchNamespacedPodAsync(new V1Patch("{}", V1Patch.PatchType.MergePatch), "redis-0", Ns);
        await Client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch("{}", V1Patch.PatchType.StrategicMergePatch), "redis-0", Ns);
        await Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns);
        await Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "x." }, InvolvedObject = new V1ObjectReference { Kind = "Pod", Name = "redis-0" },
        }, Ns);
        await using (var watch = WatchPods())
        {
            await watch.NextAsync();
        }

        var counts = Api.CountRequestsSince(mark);

        Assert.Equal(1, counts["list", "pods"]);
        Assert.Equal(1, counts["get", "pods"]);
        Assert.Equal(1, counts["patch", "pods"]);
        Assert.Equal(1, counts["patch", "pods/status"]);
        Assert.Equal(1, counts["get", "statefulsets"]);
        Assert.Equal(1, counts["create", "events"]);
        Assert.Equal(1, counts["watch", "pods"]);
        Assert.Equal((7, 6), (counts.Total, counts.ExceptWatches));
        Assert.Equal(2, Api.CountRequestsSince()["list", "pods"]);
        Assert.Equal("create events 1, get pods 1, list pods 1, patch pods 1, watch pods 1, patch pods/status 1, get statefulsets 1", counts.ToString());
    }

    [Fact]
    public void CountRequestsSince_NothingAfterTheMark_IsNone()
    {
        var counts = Api.CountRequestsSince(Api.MarkRequests());

        Assert.Equal((0, "none"), (counts.Total, counts.ToString()));
    }
}
