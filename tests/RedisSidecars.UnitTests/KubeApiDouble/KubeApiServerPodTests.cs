using System.Net;
using k8s;
using k8s.Models;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

public sealed class KubeApiServerPodTests : KubeApiTestBase
{
    private const string Gate = "redis.io/role-ready";

    private static V1Patch Strategic(string json) => new(json, V1Patch.PatchType.StrategicMergePatch);

    private static V1Patch JsonPatch(string json) => new(json, V1Patch.PatchType.JsonPatch);

    private static V1PodCondition? Condition(V1Pod pod, string type) => pod.Status.Conditions.SingleOrDefault(c => c.Type == type);

    [Fact]
    public async Task ReadNamespacedPod_ExistingPod_ReturnsLabelsGatesConditionsAndResourceVersion()
    {
        Api.AddPod(Ns, "redis-0", Labels("app=redis"), [Gate]);

        var pod = await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);

        Assert.Equal("redis", pod.Metadata.Labels["app"]);
        Assert.False(string.IsNullOrEmpty(pod.Metadata.ResourceVersion));
        Assert.False(string.IsNullOrEmpty(pod.Metadata.Uid));
        Assert.Equal(1, pod.Metadata.Generation);
        Assert.NotNull(pod.Metadata.CreationTimestamp);
        Assert.Equal(Gate, Assert.Single(pod.Spec.ReadinessGates).ConditionType);
        Assert.Equal("Running", pod.Status.Phase);
        Assert.Equal(["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"],
            pod.Status.Conditions.Select(c => c.Type));
        Assert.Equal("ReadinessGatesNotReady", Condition(pod, "Ready")!.Reason);
    }

    [Fact]
    public async Task ReadNamespacedPodStatus_ExistingPod_ReturnsWholePod()
    {
        Api.AddPod(Ns, "redis-0", Labels("app=redis"));

        var pod = await Client.CoreV1.ReadNamespacedPodStatusAsync("redis-0", Ns);

        Assert.Equal("redis-0", pod.Metadata.Name);
        Assert.Equal("True", Condition(pod, "Ready")!.Status);
    }

    [Theory]
    [InlineData("role=master", "redis-0")]
    [InlineData("role==replica", "redis-1")]
    [InlineData("app=redis,role!=master", "redis-1,redis-2")]
    [InlineData("role", "redis-0,redis-1")]
    [InlineData("!role", "redis-2,sentinel-0")]
    [InlineData("role in (master, replica)", "redis-0,redis-1")]
    [InlineData("app=redis,role notin (master)", "redis-1,redis-2")]
    [InlineData("app in (redis,sentinel),!role", "redis-2,sentinel-0")]
    [InlineData("", "redis-0,redis-1,redis-2,sentinel-0")]
    public async Task ListNamespacedPod_LabelSelector_ReturnsMatchingPodsOnly(string selector, string expected)
    {
        Api.AddPod(Ns, "redis-0", Labels("app=redis", "role=master"));
        Api.AddPod(Ns, "redis-1", Labels("app=redis", "role=replica"));
        Api.AddPod(Ns, "redis-2", Labels("app=redis"));
        Api.AddPod(Ns, "sentinel-0", Labels("app=sentinel"));
        Api.AddPod("other-ns", "redis-9", Labels("app=redis", "role=master"));

        var list = await Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: selector);

        Assert.Equal(expected, string.Join(',', list.Items.Select(p => p.Metadata.Name)));
        Assert.False(string.IsNullOrEmpty(list.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task ListNamespacedPod_FieldSelectorOnName_ReturnsThatPod()
    {
        Api.AddPod(Ns, "redis-0", Labels("app=redis"));
        Api.AddPod(Ns, "redis-1", Labels("app=redis"));

        var list = await Client.CoreV1.ListNamespacedPodAsync(Ns, fieldSelector: "metadata.name=redis-1");

        Assert.Equal("redis-1", Assert.Single(list.Items).Metadata.Name);
    }

    [Fact]
    public async Task ListNamespacedPod_MalformedSelector_Returns400()
    {
        var (code, status) = await FailureOf(() => Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: "role in ()"));

        Assert.Equal(HttpStatusCode.BadRequest, code);
        Assert.Equal("BadRequest", (string?)status["reason"]);
    }

    [Fact]
    public async Task PatchNamespacedPod_MergePatchAddsThenRemovesLabel_BumpsResourceVersionEachTime()
    {
        var before = Api.AddPod(Ns, "redis-0", Labels("app=redis"))["metadata"]!["resourceVersion"]!.GetValue<string>();

        var added = await Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"role":"master"}}}"""), "redis-0", Ns);
        var removed = await Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"role":null}}}"""), "redis-0", Ns);

        Assert.Equal("master", added.Metadata.Labels["role"]);
        Assert.False(removed.Metadata.Labels.ContainsKey("role"));
        Assert.Equal("redis", removed.Metadata.Labels["app"]);
        var versions = new[] { before, added.Metadata.ResourceVersion, removed.Metadata.ResourceVersion }.Select(long.Parse).ToList();
        Assert.True(versions[0] < versions[1] && versions[1] < versions[2], string.Join(" < ", versions));
        Assert.Null(Api.GetLabel(Ns, "redis-0", "role"));
    }

    [Fact]
    public async Task PatchNamespacedPod_SameLabelAgain_KeepsResourceVersionAndRecordsNoChange()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=master"));
        var first = await Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"role":"master"}}}"""), "redis-0", Ns);

        Assert.Equal(Api.GetPod(Ns, "redis-0")!["metadata"]!["resourceVersion"]!.GetValue<string>(), first.Metadata.ResourceVersion);
        Assert.Single(Api.Timeline.Changes, c => c.Key == "role");
        Assert.Equal(1, Api.WriteCount(Ns, "redis-0"));
    }

    [Fact]
    public async Task PatchNamespacedPodStatus_MergePatchOfConditions_ReplacesWholeList()
    {
        Api.AddPod(Ns, "redis-0", null, [Gate]);
        var patch = $$$"""{"status":{"conditions":[{"type":"{{{Gate}}}","status":"True"}]}}""";

        var pod = await Client.CoreV1.PatchNamespacedPodStatusAsync(Merge(patch), "redis-0", Ns);

        Assert.Equal(Gate, Assert.Single(pod.Status.Conditions).Type);
        Assert.Null(Condition(pod, "Ready"));
    }

    [Fact]
    public async Task PatchNamespacedPodStatus_StrategicMergeOfConditions_KeepsKubeletConditionsAndMergesByType()
    {
        Api.AddPod(Ns, "redis-0", null, [Gate]);

        await Client.CoreV1.PatchNamespacedPodStatusAsync(
            Strategic($$$"""{"status":{"conditions":[{"type":"{{{Gate}}}","status":"False","reason":"Replica"}]}}"""), "redis-0", Ns);
        var pod = await Client.CoreV1.PatchNamespacedPodStatusAsync(
            Strategic($$$"""{"status":{"conditions":[{"type":"{{{Gate}}}","status":"True","reason":"Master"}]}}"""), "redis-0", Ns);

        Assert.Equal(6, pod.Status.Conditions.Count);
        Assert.NotNull(Condition(pod, "Ready"));
        Assert.NotNull(Condition(pod, "ContainersReady"));
        var ours = Condition(pod, Gate)!;
        Assert.Equal(("True", "Master"), (ours.Status, ours.Reason));
    }

    [Fact]
    public async Task PatchNamespacedPod_JsonPatchWithEscapedSlashInKey_AddsThatLabel()
    {
        Api.AddPod(Ns, "redis-0", Labels("app=redis"));

        var pod = await Client.CoreV1.PatchNamespacedPodAsync(
            JsonPatch("""[{"op":"test","path":"/metadata/labels/app","value":"redis"},{"op":"add","path":"/metadata/labels/redis.io~1role","value":"master"}]"""),
            "redis-0", Ns);

        Assert.Equal("master", pod.Metadata.Labels["redis.io/role"]);
        Assert.Equal("master", Api.GetLabel(Ns, "redis-0", "redis.io/role"));
    }

    [Fact]
    public async Task PatchNamespacedPod_JsonPatchFailedTest_Returns422AndChangesNothing()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=replica"));

        var (code, _) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(
            JsonPatch("""[{"op":"test","path":"/metadata/labels/role","value":"master"},{"op":"remove","path":"/metadata/labels/role"}]"""),
            "redis-0", Ns));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Equal("replica", Api.GetLabel(Ns, "redis-0", "role"));
    }

    [Fact]
    public async Task PatchNamespacedPodStatus_PatchCarryingLabels_ChangesStatusButNotLabels()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=replica"));

        var pod = await Client.CoreV1.PatchNamespacedPodStatusAsync(
            Strategic("""{"metadata":{"labels":{"role":"master"}},"status":{"conditions":[{"type":"Extra","status":"True"}]}}"""), "redis-0", Ns);

        Assert.Equal("replica", pod.Metadata.Labels["role"]);
        Assert.NotNull(Condition(pod, "Extra"));
        Assert.DoesNotContain(Api.Timeline.Changes, c => c.Source == "status-patch");
    }

    [Fact]
    public async Task PatchNamespacedPod_PatchCarryingStatus_ChangesLabelsButNotStatus()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=replica"));

        var pod = await Client.CoreV1.PatchNamespacedPodAsync(
            Merge("""{"metadata":{"labels":{"role":"master"}},"status":{"phase":"Failed"}}"""), "redis-0", Ns);

        Assert.Equal("master", pod.Metadata.Labels["role"]);
        Assert.Equal("Running", pod.Status.Phase);
    }

    [Fact]
    public async Task PatchNamespacedPod_StaleResourceVersion_Returns409AndCurrentVersionSucceeds()
    {
        var stale = Api.AddPod(Ns, "redis-0", Labels("role=replica"))["metadata"]!["resourceVersion"]!.GetValue<string>();
        Api.SetLabel(Ns, "redis-0", "owner", "human");
        var current = Api.GetPod(Ns, "redis-0")!["metadata"]!["resourceVersion"]!.GetValue<string>();

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(
            Merge("""{"metadata":{"resourceVersion":"RV","labels":{"role":"master"}}}""".Replace("RV", stale, StringComparison.Ordinal)), "redis-0", Ns));
        var pod = await Client.CoreV1.PatchNamespacedPodAsync(
            Merge("""{"metadata":{"resourceVersion":"RV","labels":{"role":"master"}}}""".Replace("RV", current, StringComparison.Ordinal)), "redis-0", Ns);

        Assert.Equal(HttpStatusCode.Conflict, code);
        Assert.Equal("Conflict", (string?)status["reason"]);
        Assert.Contains("the object has been modified", (string?)status["message"], StringComparison.Ordinal);
        Assert.Equal("master", pod.Metadata.Labels["role"]);
    }

    [Fact]
    public async Task PatchNamespacedPod_UnknownPod_ThrowsHttpOperationExceptionWith404Status()
    {
        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(Merge("{}"), "redis-7", Ns));

        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("Status", (string?)status["kind"]);
        Assert.Equal("Failure", (string?)status["status"]);
        Assert.Equal("NotFound", (string?)status["reason"]);
        Assert.Equal("pods \"redis-7\" not found", (string?)status["message"]);
        Assert.Equal("redis-7", (string?)status["details"]!["name"]);
        Assert.Equal("pods", (string?)status["details"]!["kind"]);
        Assert.Equal(404, (int?)status["code"]);
    }

    [Fact]
    public async Task PatchNamespacedPod_ApplyPatchYaml_Returns415()
    {
        Api.AddPod(Ns, "redis-0");

        var (code, _) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(
            new V1Patch("""{"metadata":{"labels":{"role":"master"}}}""", V1Patch.PatchType.ApplyPatch), "redis-0", Ns, fieldManager: "test"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, code);
        Assert.Null(Api.GetLabel(Ns, "redis-0", "role"));
    }

    [Fact]
    public async Task PatchNamespacedPod_ChangingReadinessGates_Returns422BecauseSpecIsImmutable()
    {
        Api.AddPod(Ns, "redis-0", null, [Gate]);

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(
            Strategic("""{"spec":{"readinessGates":[{"conditionType":"other"}]}}"""), "redis-0", Ns));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.Contains("pod updates may not change fields", (string?)status["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task PatchNamespacedPod_InvalidLabelValue_Returns422()
    {
        Api.AddPod(Ns, "redis-0");

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(
            Merge("""{"metadata":{"labels":{"role":"not valid!"}}}"""), "redis-0", Ns));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, code);
        Assert.StartsWith("Pod \"redis-0\" is invalid: metadata.labels", (string?)status["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task PatchNamespacedPod_ContainerImageChange_BumpsGeneration()
    {
        Api.AddPod(Ns, "redis-0");

        var pod = await Client.CoreV1.PatchNamespacedPodAsync(
            Strategic("""{"spec":{"containers":[{"name":"redis","image":"redis:7.4"}]}}"""), "redis-0", Ns);

        Assert.Equal("redis:7.4", Assert.Single(pod.Spec.Containers).Image);
        Assert.Equal(2, pod.Metadata.Generation);
    }
}
