using k8s;
using k8s.Models;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E.Tests.Deploy;

/// <summary>
/// The suite reads real renderings (kubectl kustomize on a copy of manifests/, as a run does): what it finds must be
/// what the manifests say, and the run's kustomization must move everything into the run's namespace with its images.
/// </summary>
public class RenderedOverlayTests
{
    static readonly string Manifests = Workspace.FindManifests(null);
    static readonly ImageReference Init = ImageReference.TryParse("localhost:5000/e2e/redis-init:t1", out _)!;
    static readonly ImageReference Sidecar = ImageReference.TryParse("localhost:5000/e2e/redis-sidecar@sha256:" + new string('a', 64), out _)!;
    static readonly ImageReference Server = ImageReference.TryParse("mirror.local/library/redis:7.4.2", out _)!;

    static async Task<(DeployedSet Overlay, DeployedSet Run, string RunYaml)> RenderAsync(string overlay, string ns, bool overrideImages = true)
    {
        using var ws = await Workspace.CreateAsync(Manifests, overlay, CancellationToken.None);
        var rendered = DeployedSet.From(await ws.RenderOverlayAsync(CancellationToken.None));
        ws.WriteRunKustomization(ns, overrideImages ? rendered.Overrides(Init, Sidecar, Server) : []);
        var yaml = await ws.RenderRunAsync(CancellationToken.None);
        return (rendered, DeployedSet.From(yaml), yaml);
    }

    [Theory]
    [InlineData("dev")]
    [InlineData("valkey")]
    public async Task Run_EverythingInTheRunsNamespace_WithTheGivenImages(string overlay)
    {
        var (_, run, yaml) = await RenderAsync(overlay, "e2e-test01");
        var objects = DeployedSet.Load(yaml);

        Assert.Equal("e2e-test01", run.Namespace);
        var ns = Assert.Single(objects.OfType<V1Namespace>());
        Assert.Equal("true", ns.Metadata.Labels[TemporaryKustomization.NamespaceLabel]);
        Assert.Equal("restricted", ns.Metadata.Labels["pod-security.kubernetes.io/enforce"]); // the overlay's own labels stay
        foreach (var o in objects.OfType<IKubernetesObject<V1ObjectMeta>>().Where(o => o is not V1Namespace))
            Assert.Equal("e2e-test01", o.Metadata.NamespaceProperty);
        foreach (var binding in objects.OfType<V1RoleBinding>())
            Assert.All(binding.Subjects, s => Assert.Equal("e2e-test01", s.NamespaceProperty));

        Assert.Equal("localhost:5000/e2e/redis-init:t1", run.InitImage);
        Assert.Equal(Sidecar.ToString(), run.SidecarImage);
        Assert.Equal("mirror.local/library/redis:7.4.2", run.Redis.Image);
        Assert.Equal(run.Redis.Image, objects.OfType<V1StatefulSet>().Single(s => s.Metadata.Name == run.SentinelStatefulSet).Spec.Template.Spec.Containers.Single(c => c.Name == run.Sentinel.Name).Image);
        Assert.Equal(Sidecar.ToString(), run.VerifyJob.Spec.Template.Spec.Containers.Single().Image);
    }

    [Fact]
    public async Task Run_WithoutImages_KeepsTheOverlays()
    {
        var (overlay, run, _) = await RenderAsync("dev", "e2e-test02", overrideImages: false);
        Assert.Equal((overlay.InitImage, overlay.SidecarImage, overlay.Redis.Image), (run.InitImage, run.SidecarImage, run.Redis.Image));
    }

    [Fact]
    public async Task Dev_WhatTheSuiteReads_IsWhatTheManifestsSay()
    {
        var (dev, _, _) = await RenderAsync("dev", "e2e-test03");

        Assert.Equal(("redis", 3, "sentinel", 3), (dev.RedisStatefulSet, dev.RedisReplicas, dev.SentinelStatefulSet, dev.SentinelReplicas));
        Assert.Equal(("redis-role", "master", "mymaster"), (dev.LabelName, dev.MasterValue, dev.MasterSetName));
        Assert.Equal(("redis-master", 6379), (dev.MasterService, dev.MasterServicePort));
        Assert.Equal(new ServerContainer("redis", "redis:7.4.2-alpine", "redis-cli", 6379, "/etc/redis-secrets/redis-password"), dev.Redis);
        Assert.Equal(new ServerContainer("sentinel", "redis:7.4.2-alpine", "redis-cli", 26379, "/etc/redis-secrets/sentinel-password"), dev.Sentinel);
        Assert.Equal(new KeyValuePair<string, string>("redissidecars.io/client", "true"), dev.ClientLabel);
        Assert.StartsWith("redis-app-", dev.AppSecret, StringComparison.Ordinal);
        Assert.Equal("redis-verify", dev.VerifyJob.Metadata.Name);
        Assert.Equal("app.kubernetes.io/component=redis,app.kubernetes.io/name=redis-sidecars,redis-role=master",
            string.Join(",", dev.MasterSelector.Split(',').Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task Valkey_LabelAndCli_ComeFromTheOverlay()
    {
        var (valkey, _, _) = await RenderAsync("valkey", "e2e-test04");
        Assert.Equal(("valkey-master", "true"), (valkey.LabelName, valkey.MasterValue));
        Assert.Equal(("valkey-cli", "valkey-cli"), (valkey.Redis.Cli, valkey.Sentinel.Cli));
        Assert.Equal("redis-master", valkey.MasterService);
    }

    [Fact]
    public async Task Prod_Tls_IsRefusedWithOneLine()
    {
        using var ws = await Workspace.CreateAsync(Manifests, "prod", CancellationToken.None);
        var yaml = await ws.RenderOverlayAsync(CancellationToken.None);
        var e = Assert.Throws<InvalidOperationException>(() => DeployedSet.From(yaml));
        Assert.Contains("TLS_ENABLED=true", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task Workspace_IsPrivate_LeavesTheCheckoutAlone_AndIsDeleted()
    {
        var checkoutSecrets = Path.Combine(Manifests, "overlays", "dev", "secrets");
        var before = Directory.Exists(checkoutSecrets) ? Directory.GetFiles(checkoutSecrets).Select(f => (f, File.GetLastWriteTimeUtc(f))).ToArray() : [];
        string root;
        using (var ws = await Workspace.CreateAsync(Manifests, "dev", CancellationToken.None))
        {
            root = ws.Root;
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
            Assert.True(File.Exists(Path.Combine(ws.OverlayDir, "secrets", "redis-password.txt")));
        }
        Assert.False(Directory.Exists(root));
        var after = Directory.Exists(checkoutSecrets) ? Directory.GetFiles(checkoutSecrets).Select(f => (f, File.GetLastWriteTimeUtc(f))).ToArray() : [];
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Workspace_UnknownOverlay_SaysSo()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Workspace.CreateAsync(Manifests, "nope", CancellationToken.None));
        Assert.Contains("no overlay 'nope'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TemporaryKustomization_AbsoluteOverlayPath_IsRefused() =>
        Assert.Throws<ArgumentException>(() => TemporaryKustomization.Render("/abs/overlay", "ns", []));

    [Theory]
    [InlineData("redis-server", "redis-cli")]
    [InlineData("/usr/local/bin/valkey-sentinel", "valkey-cli")]
    [InlineData("redis-sentinel", "redis-cli")]
    [InlineData("sh", null)]
    [InlineData("-server", null)]
    public void CliFor_ServerBinary(string binary, string? cli) => Assert.Equal(cli, DeployedSet.CliFor(binary));

    [Theory]
    [InlineData("redis-app", true)]
    [InlineData("redis-app-9h2k7m5t8b", true)]
    [InlineData("redis-app-x", false)]
    [InlineData("redis-apps-9h2k7m5t8", false)]
    public void IsGenerated_BaseNameOrHashSuffix(string name, bool generated) => Assert.Equal(generated, DeployedSet.IsGenerated(name, "redis-app"));

    static V1NetworkPolicy Policy(Dictionary<string, string> podSelector, params V1NetworkPolicyPeer[] from) => new()
    {
        Spec = new V1NetworkPolicySpec
        {
            PodSelector = new V1LabelSelector { MatchLabels = podSelector },
            Ingress = [new V1NetworkPolicyIngressRule { FromProperty = from }],
        },
    };

    static V1NetworkPolicyPeer Pods(string key, string value) => new() { PodSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [key] = value } } };

    [Fact]
    public void ClientLabelOf_NoPolicyCoversRedis_IsNull()
    {
        var redis = new Dictionary<string, string> { ["c"] = "redis" };
        Assert.Null(DeployedSet.ClientLabelOf([Policy(new() { ["c"] = "sentinel" }, Pods("client", "true"))], redis, [redis]));
    }

    [Fact]
    public void ClientLabelOf_PeerLabelsOfWorkloads_AreNotClients()
    {
        var redis = new Dictionary<string, string> { ["c"] = "redis" };
        var verify = new Dictionary<string, string> { ["c"] = "verify" };
        var label = DeployedSet.ClientLabelOf([Policy(redis, Pods("c", "verify"), Pods("client", "true"), new V1NetworkPolicyPeer { NamespaceSelector = new V1LabelSelector() })], redis, [redis, verify]);
        Assert.Equal(new KeyValuePair<string, string>("client", "true"), label);
    }

    [Fact]
    public void ClientLabelOf_PolicyAdmittingNoClient_IsAnError()
    {
        var redis = new Dictionary<string, string> { ["c"] = "redis" };
        var e = Assert.Throws<InvalidOperationException>(() => DeployedSet.ClientLabelOf([Policy(redis, Pods("c", "redis"))], redis, [redis]));
        Assert.Contains("admit no client pod label", e.Message, StringComparison.Ordinal);
    }
}
