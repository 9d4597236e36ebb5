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
            ["/events:create:any", "/events:patch:any", "/pods/status:patch:named", "/pods:list:any", "/pods:patch:named", "/pods:watch:any",
             "apps/statefulsets:get:named", "apps/statefulsets:list:named", "apps/statefulsets:watch:named"],
            grants);
    }

    /// <summary>The StatefulSet rule names exactly the Redis StatefulSet (its update revision, nothing else).</summary>
    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_SidecarRole_ReadsOnlyItsOwnStatefulSet(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var role = RoleOf(r, r.RedisPod());
        var sts = r.StatefulSet(r.RedisPod().OwnerName);

        var rule = Assert.Single(role.Rules, x => x.Resources.Contains("statefulsets"));
        Assert.Equal(["apps"], rule.ApiGroups);
        Assert.Equal([sts.Metadata.Name], rule.ResourceNames);
        Assert.Empty(rule.Verbs.Except(["get", "list", "watch"]));
    }

    /// <summary>Pod reads are list/watch only (the cache), never get, and never combined with a write in one rule.</summary>
    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_SidecarRole_PodReadsAreListAndWatchWithoutWrites(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var role = RoleOf(r, r.RedisPod());

        foreach (var rule in role.Rules.Where(x => x.Resources.Contains("pods")))
        {
            var reads = rule.Verbs.Intersect(["get", "list", "watch"]).ToArray();
            if (reads.Length == 0) continue;
            Assert.Equal(["list", "watch"], reads);
            Assert.Empty(rule.Verbs.Intersect(WriteVerbs));
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Rbac_VerifyJob_OnlyListsPods(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var role = RoleOf(r, r.VerifyPod());

        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["pods"], rule.Resources);
        Assert.Equal(["list"], rule.Verbs);
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
