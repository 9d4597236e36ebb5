using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>Least privilege: namespaced only, no wildcards, writes limited by name to the StatefulSet's pods.</summary>
public class RbacTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    static readonly string[] WriteVerbs = ["create", "update", "patch", "delete", "deletecollection"];

    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_IsNamespacedWithoutWildcards(string overlay)
    {
        var r = Kustomize.Overlay(overlay);

        Assert.Empty(r.All<V1ClusterRole>());
        Assert.Empty(r.All<V1ClusterRoleBinding>());
        foreach (var role in r.All<V1Role>())
            foreach (var rule in role.Rules)
            {
                var all = (rule.ApiGroups ?? []).Concat(rule.Resources ?? []).Concat(rule.Verbs).Concat(rule.ResourceNames ?? []);
                Assert.DoesNotContain("*", all);
                Assert.True(rule.NonResourceURLs is null or { Count: 0 }, $"Role {role.Metadata.Name} has nonResourceURLs");
            }
        foreach (var binding in r.All<V1RoleBinding>())
            Assert.Equal("Role", binding.RoleRef.Kind);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_PodWrites_AreLimitedToTheStatefulSetsPods(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var sts = r.StatefulSet(r.RedisPod().OwnerName);
        var podNames = Enumerable.Range(0, sts.Spec.Replicas ?? 1).Select(i => $"{sts.Metadata.Name}-{i}").ToArray();

        foreach (var role in r.All<V1Role>())
            foreach (var rule in role.Rules.Where(x => x.Resources.Any(res => res.StartsWith("pods", StringComparison.Ordinal))))
            {
                if (!rule.Verbs.Intersect(WriteVerbs).Any()) continue;
                Assert.True(rule.ResourceNames is { Count: > 0 }, $"Role {role.Metadata.Name}: {string.Join(",", rule.Verbs)} on {string.Join(",", rule.Resources)} without resourceNames");
                Assert.Equal(podNames, rule.ResourceNames);
                Assert.DoesNotContain("create", rule.Verbs); // create cannot be restricted by name
            }
    }

    /// <summary>The sidecar's grant, exactly: what the sidecar may call (see manifests/README.md).</summary>
    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_SidecarRole_GrantsExactlyWhatTheSidecarCalls(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var role = RoleOf(r, r.RedisPod());

        var grants = role.Rules
            .SelectMany(rule => rule.Resources.SelectMany(res => rule.Verbs.Select(v => $"{string.Join("", rule.ApiGroups)}/{res}:{v}:{(rule.ResourceNames is { Count: > 0 } ? "named" : "any")}")))
            .Order(StringComparer.Ordinal);
        Assert.Equal(
            ["/events:create:any", "/events:patch:any", "/pods/status:patch:named", "/pods:get:named", "/pods:patch:named"],
            grants);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_VerifyJob_IsReadOnly(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var role = RoleOf(r, r.VerifyPod());

        foreach (var rule in role.Rules) Assert.Empty(rule.Verbs.Except(["get", "list"]));
        Assert.Contains(role.Rules, rule => rule.Resources.Contains("pods") && rule.Verbs.Contains("list"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_SentinelPods_HaveNoRole(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var sa = r.SentinelPod().Spec.ServiceAccountName;

        Assert.False(string.IsNullOrEmpty(sa), "sentinel pods need their own ServiceAccount (not `default`)");
        Assert.DoesNotContain(r.All<V1RoleBinding>(), b => b.Subjects.Any(s => s.Kind == "ServiceAccount" && s.Name == sa));
    }

    /// <summary>The Role bound to the pod's ServiceAccount (exactly one).</summary>
    static V1Role RoleOf(RenderedOverlay r, PodTemplate pod)
    {
        var sa = pod.Spec.ServiceAccountName;
        Assert.False(string.IsNullOrEmpty(sa), $"{pod} runs as the default ServiceAccount");
        r.One<V1ServiceAccount>(sa);
        var binding = Assert.Single(r.All<V1RoleBinding>(), b => b.Subjects.Any(s => s.Kind == "ServiceAccount" && s.Name == sa
                                                                                   && s.NamespaceProperty == r.All<V1Namespace>().Single().Metadata.Name));
        return r.One<V1Role>(binding.RoleRef.Name);
    }
}
