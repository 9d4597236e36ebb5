using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

public class SecurityTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    const string TokenPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    [Theory, MemberData(nameof(Overlays))]
    public void SecurityContext_EveryContainer_IsLockedDown(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var problems = new List<string>();
        foreach (var (pod, c, _) in r.AllContainers())
        {
            var sc = c.SecurityContext;
            var where = $"{pod}/{c.Name}";
            if (sc is null) { problems.Add($"{where}: no securityContext"); continue; }
            if (sc.RunAsNonRoot != true) problems.Add($"{where}: runAsNonRoot is not true");
            if (sc.RunAsUser is not > 0) problems.Add($"{where}: no fixed non-root runAsUser");
            if (sc.RunAsGroup is not > 0) problems.Add($"{where}: no fixed non-root runAsGroup");
            if (sc.ReadOnlyRootFilesystem != true) problems.Add($"{where}: readOnlyRootFilesystem is not true");
            if (sc.AllowPrivilegeEscalation != false) problems.Add($"{where}: allowPrivilegeEscalation is not false");
            if (sc.Privileged == true) problems.Add($"{where}: privileged");
            if (sc.Capabilities?.Drop is not { } drop || !drop.Contains("ALL")) problems.Add($"{where}: capabilities do not drop ALL");
            if (sc.Capabilities?.Add is { Count: > 0 }) problems.Add($"{where}: adds capabilities");
            if ((sc.SeccompProfile ?? pod.Spec.SecurityContext?.SeccompProfile)?.Type != "RuntimeDefault") problems.Add($"{where}: seccomp is not RuntimeDefault");
            if (Contract.IsOurImage(c.Image) && c.Name != "redis-init" && sc.RunAsUser != 65532) problems.Add($"{where}: our images run as 65532");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void SecurityContext_EveryPod_IsNonRootWithFsGroup(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var pod in r.PodTemplates)
        {
            var sc = pod.Spec.SecurityContext;
            Assert.True(sc?.RunAsNonRoot == true, $"{pod}: pod-level runAsNonRoot");
            Assert.True(sc?.FsGroup is > 0, $"{pod}: no fsGroup (mounted Secrets are 0440 root:fsGroup)");
            Assert.Equal("RuntimeDefault", sc?.SeccompProfile?.Type);
            Assert.NotEqual(true, pod.Spec.HostNetwork);
            Assert.NotEqual(true, pod.Spec.HostPID);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Namespace_EnforcesTheRestrictedPodSecurityStandard(string overlay)
    {
        var ns = Kustomize.Overlay(overlay).All<V1Namespace>().Single();
        Assert.Equal("restricted", ns.Metadata.Labels?["pod-security.kubernetes.io/enforce"]);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Token_SentinelPods_MountNone(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.SentinelPod();

        Assert.False(pod.Spec.AutomountServiceAccountToken);
        Assert.False(r.One<V1ServiceAccount>(pod.Spec.ServiceAccountName).AutomountServiceAccountToken);
        Assert.DoesNotContain(pod.Spec.Volumes, v => v.Projected?.Sources?.Any(s => s.ServiceAccountToken is not null) == true);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Token_RedisPods_OnlyTheSidecarMountsOne(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.RedisPod();
        Assert.False(pod.Spec.AutomountServiceAccountToken);

        var tokenVolumes = pod.Spec.Volumes.Where(v => v.Projected?.Sources?.Any(s => s.ServiceAccountToken is not null) == true).Select(v => v.Name).ToHashSet();
        var mounting = pod.Containers().Select(x => x.Container).Where(c => (c.VolumeMounts ?? []).Any(m => tokenVolumes.Contains(m.Name))).ToArray();

        var sidecar = Assert.Single(mounting);
        Assert.Equal("redis-sidecar", Contract.Program(sidecar.Image));
        // Where the KubernetesClient's in-cluster config looks: token, ca.crt, namespace.
        var mount = sidecar.VolumeMounts.Single(m => tokenVolumes.Contains(m.Name));
        Assert.Equal(TokenPath, mount.MountPath);
        Assert.True(mount.ReadOnlyProperty);
        var sources = pod.Spec.Volumes.Single(v => v.Name == mount.Name).Projected.Sources;
        Assert.Equal("token", sources.Single(s => s.ServiceAccountToken is not null).ServiceAccountToken.Path);
        Assert.Contains(sources, s => s.ConfigMap?.Name == "kube-root-ca.crt" && s.ConfigMap.Items.Any(i => i.Path == "ca.crt"));
        Assert.Contains(sources, s => s.DownwardAPI?.Items.Any(i => i.Path == "namespace" && i.FieldRef.FieldPath == "metadata.namespace") == true);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Images_ArePinnedByTag(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var version = System.Xml.Linq.XDocument.Load(Repo.File("Directory.Build.props")).Descendants("Version").Single().Value;
        foreach (var (pod, c, _) in r.AllContainers())
        {
            var tag = Contract.Tag(c.Image);
            Assert.True(tag is not null && tag != "latest", $"{pod}/{c.Name}: image {c.Image} is not pinned by tag");
            if (Contract.IsOurImage(c.Image)) Assert.Equal(version, tag); // the version the programs are built as
            Assert.NotEqual("Always", c.ImagePullPolicy);
        }
    }
}
