using System.Net;
using k8s;
using k8s.Models;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>An enforced Role is authorized as the real RBAC authorizer does, with its 403 wording.</summary>
public sealed class KubeApiServerRbacTests : KubeApiTestBase
{
    private static readonly string[] Names = ["redis-0", "redis-1"];

    private string Forbidden(string what, string verb, string resource, string group = "") =>
        $"{what} is forbidden: User \"system:serviceaccount:{Ns}:redis-sidecar\" cannot {verb} resource \"{resource}\" in API group \"{group}\" in the namespace \"{Ns}\"";

    [Fact]
    public async Task ResourceNames_AllowGetAndPatchOfNamedPodsOnly()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-7");
        Api.EnforceRole([new PolicyRule([""], ["pods"], ["get", "patch"], Names)]);

        await Client.CoreV1.ReadNamespacedPodAsync("redis-0", Ns);
        await Client.CoreV1.PatchNamespacedPodAsync(Merge("""{"metadata":{"labels":{"a":"b"}}}"""), "redis-0", Ns);
        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodAsync(Merge("{}"), "redis-7", Ns));

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Forbidden("pods \"redis-7\"", "patch", "pods"), (string?)status["message"]);
        Assert.Equal(("Forbidden", "redis-7", "pods"), ((string?)status["reason"], (string?)status["details"]!["name"], (string?)status["details"]!["kind"]));
    }

    [Fact]
    public async Task ResourceNames_AllowListAndWatchOnlyWithAnExactMetadataNameFieldSelector()
    {
        Api.AddPod(Ns, "redis-0");
        Api.EnforceRole([new PolicyRule([""], ["pods"], ["list", "watch"], Names)]);

        var byName = await Client.CoreV1.ListNamespacedPodAsync(Ns, fieldSelector: "metadata.name=redis-0");
        var (all, allStatus) = await FailureOf(() => Client.CoreV1.ListNamespacedPodAsync(Ns));
        var (bySelector, _) = await FailureOf(() => Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: "statefulset.kubernetes.io/pod-name=redis-0"));
        await using var watchByName = WatchPods("fieldSelector=metadata.name%3Dredis-0");
        await using var watchAll = WatchPods();

        Assert.Equal("redis-0", Assert.Single(byName.Items).Metadata.Name);
        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (all, bySelector));
        Assert.Equal(Forbidden("pods", "list", "pods"), (string?)allStatus["message"]);
        Assert.Equal(WatchEventKind.Added, (await watchByName.NextAsync()).Kind);
        var denied = Assert.IsType<k8s.Autorest.HttpOperationException>(await watchAll.EndAsync());
        Assert.Equal(HttpStatusCode.Forbidden, denied.Response.StatusCode);
    }

    [Fact]
    public async Task Subresource_NeedsItsOwnRule_AndStarSlashStatusCoversIt()
    {
        Api.AddPod(Ns, "redis-0");
        var patch = Merge("""{"status":{"phase":"Running"}}""");
        Api.EnforceRole([new PolicyRule([""], ["pods"], ["patch"])]);

        var (code, status) = await FailureOf(() => Client.CoreV1.PatchNamespacedPodStatusAsync(patch, "redis-0", Ns));
        Api.EnforceRole([new PolicyRule([""], ["*/status"], ["patch"])]);
        await Client.CoreV1.PatchNamespacedPodStatusAsync(patch, "redis-0", Ns);

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Forbidden("pods \"redis-0\"", "patch", "pods/status"), (string?)status["message"]);
    }

    [Fact]
    public async Task Create_IsNeverAllowedByARuleWithResourceNames()
    {
        var ev = new Corev1Event { Metadata = new V1ObjectMeta { GenerateName = "x." }, InvolvedObject = new V1ObjectReference { Kind = "Pod", Name = "redis-0" } };
        Api.EnforceRole([new PolicyRule([""], ["events"], ["create"], ["redis-0"])]);

        var (code, _) = await FailureOf(() => Client.CoreV1.CreateNamespacedEventAsync(ev, Ns));
        Api.EnforceRole([new PolicyRule([""], ["events"], ["create"])]);
        await Client.CoreV1.CreateNamespacedEventAsync(ev, Ns);

        Assert.Equal(HttpStatusCode.Forbidden, code);
    }

    [Fact]
    public async Task StatefulSets_DeniedWithTheGroupQualifiedResourceInTheMessage()
    {
        Api.AddStatefulSet(Ns, "redis", 1);
        Api.EnforceRole([new PolicyRule(["apps"], ["statefulsets"], ["get"], ["sentinel"])]);

        var (code, status) = await FailureOf(() => Client.AppsV1.ReadNamespacedStatefulSetAsync("redis", Ns));

        Assert.Equal(HttpStatusCode.Forbidden, code);
        Assert.Equal(Forbidden("statefulsets.apps \"redis\"", "get", "statefulsets", "apps"), (string?)status["message"]);
    }

    [Fact]
    public async Task TwoServiceAccounts_EachTokenIsHeldToItsOwnRole()
    {
        Api.AddPod(Ns, "redis-0");
        var verifyConfig = Path.Combine(Path.GetTempPath(), $"kad-verify-{Guid.NewGuid():N}.yaml");
        Api.WriteKubeconfig(verifyConfig, Ns, "redis-verify");
        using var verify = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(verifyConfig));
        File.Delete(verifyConfig);
        Api.EnforceRole([new PolicyRule([""], ["pods"], ["patch"], Names)]);
        Api.EnforceRole([new PolicyRule([""], ["pods"], ["list"])], "redis-verify");

        await verify.CoreV1.ListNamespacedPodAsync(Ns);
        var (sidecarList, _) = await FailureOf(() => Client.CoreV1.ListNamespacedPodAsync(Ns));
        var (verifyPatch, status) = await FailureOf(() => verify.CoreV1.PatchNamespacedPodAsync(Merge("{}"), "redis-0", Ns));
        Api.StopEnforcingRole();
        await Client.CoreV1.ListNamespacedPodAsync(Ns);

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (sidecarList, verifyPatch));
        Assert.Contains($"User \"system:serviceaccount:{Ns}:redis-verify\" cannot patch", (string?)status["message"], StringComparison.Ordinal);
    }

    [Fact]
    public void RoleRules_FromYaml_ReadsTheNamedRolesRulesFromAMultiDocumentStream()
    {
        const string Yaml = """
            apiVersion: v1
            kind: ServiceAccount
            metadata:
              name: redis
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: other
            rules:
            - apiGroups: ["*"]
              resources: ["*"]
              verbs: ["*"]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: redis-sidecar
              namespace: prod
            rules:
            - apiGroups:
              - ""
              resources: ["pods"]
              verbs: ["list", "watch"]
            - apiGroups: [apps]
              resources: [statefulsets]
              verbs: [get, list, watch]
              resourceNames: [redis]
            """;

        var rules = RoleRules.FromYaml(Yaml, "redis-sidecar");

        Assert.Equal(2, rules.Count);
        Assert.Equal([""], rules[0].ApiGroups);
        Assert.Equal(["pods"], rules[0].Resources);
        Assert.Equal(["list", "watch"], rules[0].Verbs);
        Assert.Empty(rules[0].ResourceNames!);
        Assert.Equal(["redis"], rules[1].ResourceNames);
        Assert.True(rules[1].Allows("watch", "apps", "statefulsets", "redis"));
        Assert.False(rules[1].Allows("watch", "apps", "statefulsets", null));
        Assert.Throws<InvalidOperationException>(() => RoleRules.FromYaml(Yaml, "missing"));
    }

    [Theory]
    [InlineData("patch", "", "pods", "redis-0", true)]
    [InlineData("patch", "", "pods", "redis-9", false)]
    [InlineData("patch", "", "pods", null, false)]
    [InlineData("patch", "", "pods/status", "redis-0", false)]
    [InlineData("patch", "apps", "pods", "redis-0", false)]
    [InlineData("get", "", "pods", "redis-0", false)]
    public void PolicyRule_Allows_MatchesGroupResourceVerbAndName(string verb, string group, string resource, string? name, bool allowed)
    {
        var rule = new PolicyRule([""], ["pods"], ["patch"], Names);

        Assert.Equal(allowed, rule.Allows(verb, group, resource, name));
    }
}
