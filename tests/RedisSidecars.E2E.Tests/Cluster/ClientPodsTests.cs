using k8s.Models;
using RedisSidecars.E2E.Cluster;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E.Tests.Cluster;

public class ClientPodsTests
{
    static async Task<DeployedSet> DevAsync()
    {
        using var ws = await Workspace.CreateAsync(Workspace.FindManifests(null), "dev", CancellationToken.None);
        ws.WriteRunKustomization("e2e-pods", []);
        return DeployedSet.From(await ws.RenderRunAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Build_AdmittedRestrictedAndAuthenticatedFromTheAppSecret()
    {
        var set = await DevAsync();
        var pod = ClientPods.Build(set, "e2e-writer", "echo hi");
        var c = Assert.Single(pod.Spec.Containers);

        Assert.Equal("e2e-pods", pod.Metadata.NamespaceProperty);
        Assert.Equal(set.ClientLabel!.Value.Value, pod.Metadata.Labels[set.ClientLabel.Value.Key]);
        Assert.DoesNotContain(set.RedisSelector, kv => pod.Metadata.Labels.TryGetValue(kv.Key, out var v) && v == kv.Value && kv.Key != ClientPods.AppLabel);
        Assert.Equal(set.Redis.Image, c.Image);
        Assert.Equal(["sh", "-c", "echo hi"], c.Command);
        // Restricted Pod Security Standard.
        Assert.True(pod.Spec.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", pod.Spec.SecurityContext.SeccompProfile.Type);
        Assert.False(c.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], c.SecurityContext.Capabilities.Drop);
        Assert.True(c.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(pod.Spec.AutomountServiceAccountToken);
        // The password only through secretKeyRef; no plain value anywhere.
        Assert.All(c.Env, e => Assert.Null(e.Value));
        Assert.All(c.Env, e => Assert.Equal(set.AppSecret, e.ValueFrom.SecretKeyRef.Name));
        Assert.Equal(DeployedSet.AppUserKey, c.Env.Single(e => e.Name == Scripts.UserVariable).ValueFrom.SecretKeyRef.Key);
        foreach (var v in Scripts.PasswordVariables) Assert.Equal(DeployedSet.AppPasswordKey, c.Env.Single(e => e.Name == v).ValueFrom.SecretKeyRef.Key);
        // The writer's stop file needs a writable folder.
        Assert.Equal(ClientPods.ScratchDir, c.VolumeMounts.Single().MountPath);
        Assert.NotNull(pod.Spec.Volumes.Single().EmptyDir);
    }

    [Fact]
    public async Task VerifyAgain_SameTemplateNewName()
    {
        var set = await DevAsync();
        var job = ClientPods.VerifyAgain(set, "redis-verify-abc");

        Assert.Equal("redis-verify-abc", job.Metadata.Name);
        Assert.Equal("e2e-pods", job.Metadata.NamespaceProperty);
        Assert.Null(job.Metadata.Annotations); // no Argo CD hook annotations on the copy
        Assert.Equal(k8s.KubernetesJson.Serialize(set.VerifyJob.Spec), k8s.KubernetesJson.Serialize(job.Spec));
        Assert.Equal("redis-verify", set.VerifyJob.Metadata.Name); // the original is untouched
    }

    [Fact]
    public void ReadyEndpoints_NilCountsAsReady_NotReadyLeftOut_EachPodOnce()
    {
        V1Endpoint E(string pod, bool? ready) => new() { Addresses = ["10.0.0.1"], TargetRef = new V1ObjectReference { Name = pod }, Conditions = new V1EndpointConditions { Ready = ready } };
        var slices = new[]
        {
            new V1EndpointSlice { AddressType = "IPv4", Endpoints = [E("redis-1", true), E("redis-0", false)] },
            new V1EndpointSlice { AddressType = "IPv6", Endpoints = [E("redis-1", null), E("redis-2", null)] },
            new V1EndpointSlice { AddressType = "IPv4", Endpoints = null },
        };

        Assert.Equal(["redis-1", "redis-2"], Observers.ReadyEndpoints(slices));
        Assert.Empty(Observers.ReadyEndpoints([]));
    }
}
