using System.Net;
using k8s;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>StatefulSets and their pods as the controller leaves them, read with the real client.</summary>
public sealed class KubeApiServerStatefulSetTests : KubeApiTestBase
{
    private const string Gate = "redis.io/role-ready";

    [Fact]
    public async Task AddStatefulSet_CreatesTheSetAndPodsLabelledLikeTheController()
    {
        Api.AddStatefulSet(Ns, "redis", 3, Labels("app=redis"), [Gate]);

        var set = await Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns);
        var pods = await Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: "statefulset.kubernetes.io/pod-name in (redis-0,redis-2)");

        Assert.Equal(3, set.Spec.Replicas);
        Assert.Equal("redis", set.Spec.Selector.MatchLabels["app"]);
        Assert.StartsWith("redis-", set.Status.UpdateRevision, StringComparison.Ordinal);
        Assert.Equal(set.Status.UpdateRevision, set.Status.CurrentRevision);
        Assert.Equal(3, set.Status.Replicas);
        Assert.Equal(["redis-0", "redis-2"], pods.Items.Select(p => p.Metadata.Name));
        foreach (var pod in pods.Items)
        {
            Assert.Equal(pod.Metadata.Name, pod.Metadata.Labels[KubeApiServer.PodNameLabel]);
            Assert.Equal(set.Status.UpdateRevision, pod.Metadata.Labels[KubeApiServer.RevisionLabel]);
            Assert.Equal("redis", pod.Metadata.Labels["app"]);
            Assert.Equal(Gate, Assert.Single(pod.Spec.ReadinessGates).ConditionType);
        }
    }

    [Fact]
    public async Task ReadNamespacedStatefulSet_Unknown_Answers404NamingTheGroupQualifiedResource()
    {
        var (code, status) = await FailureOf(() => Client.AppsV1.ReadNamespacedStatefulSetAsync("nope", Ns));

        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("statefulsets.apps \"nope\" not found", (string?)status["message"]);
    }

    [Fact]
    public void AddPod_NameWithOrdinal_CarriesStatefulSetLabels_NameWithoutOrdinal_DoesNot()
    {
        var ordinal = Api.AddPod(Ns, "redis-2", revision: "redis-abc");
        var plain = Api.AddPod(Ns, "standalone");

        Assert.Equal("redis-2", (string?)ordinal["metadata"]!["labels"]![KubeApiServer.PodNameLabel]);
        Assert.Equal("2", (string?)ordinal["metadata"]!["labels"]![KubeApiServer.PodIndexLabel]);
        Assert.Equal("redis-abc", (string?)ordinal["metadata"]!["labels"]![KubeApiServer.RevisionLabel]);
        Assert.Null(plain["metadata"]!["labels"]![KubeApiServer.PodNameLabel]);
    }

    [Fact]
    public async Task RolloutRestart_ThenEveryPodRecreated_CurrentRevisionFollowsTheUpdateRevision()
    {
        Api.AddStatefulSet(Ns, "redis", 2);
        var before = Api.GetUpdateRevision(Ns, "redis");

        var revision = Api.RolloutRestart(Ns, "redis");
        var halfway = await Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns);
        Api.RecreatePod(Ns, "redis-1");
        Api.RecreatePod(Ns, "redis-0");
        var done = await Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns);

        Assert.NotEqual(before, revision);
        Assert.Equal((revision, before, 0), (halfway.Status.UpdateRevision, halfway.Status.CurrentRevision, halfway.Status.UpdatedReplicas));
        Assert.Equal(2, halfway.Metadata.Generation);
        Assert.NotNull(halfway.Spec.Template.Metadata.Annotations["kubectl.kubernetes.io/restartedAt"]);
        Assert.Equal((revision, revision, 2), (done.Status.UpdateRevision, done.Status.CurrentRevision, done.Status.UpdatedReplicas));
    }

    [Fact]
    public async Task RecreatePod_WatchSeesDeletedThenAddedWithNewUidTemplateLabelsAndNewRevision()
    {
        Api.AddStatefulSet(Ns, "redis", 1, null, [Gate]);
        Api.SetLabel(Ns, "redis-0", "role", "master");
        var old = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        var revision = Api.RolloutRestart(Ns, "redis");

        await using var watch = WatchPods($"resourceVersion={Api.ResourceVersion}");
        Api.RecreatePod(Ns, "redis-0");
        var deleted = await watch.NextChangeAsync();
        var added = await watch.NextChangeAsync();

        Assert.Equal((WatchEventKind.Deleted, old.Metadata.Uid), (deleted.Kind, deleted.Object!.Metadata.Uid));
        Assert.Equal(WatchEventKind.Added, added.Kind);
        Assert.NotEqual(old.Metadata.Uid, added.Object!.Metadata.Uid);
        Assert.False(added.Object.Metadata.Labels.ContainsKey("role"));
        Assert.Equal(revision, added.Object.Metadata.Labels[KubeApiServer.RevisionLabel]);
        Assert.Equal(Gate, Assert.Single(added.Object.Spec.ReadinessGates).ConditionType);
        Assert.Contains(Api.Timeline.Changes, c => c is { Key: "role", OldValue: "master", NewValue: null, Source: "delete" });
    }

    [Fact]
    public async Task MarkTerminating_SetsDeletionTimestampAndGraceWhilePatchesKeepIt()
    {
        Api.AddPod(Ns, "redis-0");

        Api.MarkTerminating(Ns, "redis-0", 30);
        var patched = await Client.CoreV1.PatchNamespacedPodAsync(
            new k8s.Models.V1Patch("""{"metadata":{"labels":{"role":"replica"}}}""", k8s.Models.V1Patch.PatchType.MergePatch), "redis-0", Ns);

        Assert.NotNull(patched.Metadata.DeletionTimestamp);
        Assert.Equal(30, patched.Metadata.DeletionGracePeriodSeconds);
        Assert.Equal("replica", patched.Metadata.Labels["role"]);
    }

    [Fact]
    public async Task StatefulSetStatus_ReadyReplicasFollowThePodsReadyCondition()
    {
        Api.AddStatefulSet(Ns, "redis", 2, null, [Gate]);

        var before = await Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns);
        Api.SetCondition(Ns, "redis-1", Gate, "True");
        var after = await Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns);

        Assert.Equal(0, before.Status.ReadyReplicas ?? 0);
        Assert.Equal(1, after.Status.ReadyReplicas);
    }
}
