using k8s;
using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

public class RenderTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    [Theory, MemberData(nameof(Overlays))]
    public void Render_Overlay_LoadsIntoTypedModels(string overlay)
    {
        var r = Kustomize.Overlay(overlay);

        Assert.NotEmpty(r.Objects);
        foreach (var o in r.Objects)
            Assert.True(o is IKubernetesObject<V1ObjectMeta> || o is UntypedResource, $"{overlay}: {o.GetType().Name} is not a Kubernetes object");
        foreach (var u in r.All<UntypedResource>())
            Assert.Contains($"{u.ApiVersion}/{u.Kind}", RenderedOverlay.CustomKinds.Keys);
        Assert.Single(r.All<V1Namespace>());
        r.RedisPod();
        r.SentinelPod();
        r.VerifyPod();
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Render_Overlay_PutsEverythingInItsNamespace(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var ns = r.All<V1Namespace>().Single().Metadata.Name;

        foreach (var o in r.Objects)
        {
            var (kind, name, objectNs) = o switch
            {
                IKubernetesObject<V1ObjectMeta> k => (k.Kind, k.Metadata.Name, k.Metadata.NamespaceProperty),
                UntypedResource u => (u.Kind, u.Name, u.String("metadata", "namespace")),
                _ => throw new Xunit.Sdk.XunitException("unexpected object"),
            };
            if (kind == "Namespace") continue;
            Assert.True(objectNs == ns, $"{overlay}: {kind}/{name} is in namespace '{objectNs}', expected '{ns}'");
        }
    }

    [Fact]
    public void Render_Base_RendersWithoutSecrets()
    {
        var yaml = Kustomize.Render("base");
        var objects = RenderedOverlay.Parse("base", yaml);

        Assert.Equal(["redis", "sentinel"], objects.All<V1StatefulSet>().Select(s => s.Metadata.Name).Order(StringComparer.Ordinal));
        Assert.Empty(objects.All<V1Secret>()); // secrets come only from the overlays' generators
    }

    [Fact]
    public void Overlays_IncludeDevProdAndValkey()
    {
        Assert.Superset(new HashSet<string> { "dev", "prod", "valkey" }, Repo.Overlays.ToHashSet());
    }

    [Fact]
    public void Components_AreEachSwitchedOnBySomeOverlay()
    {
        // So that every component is rendered (and so checked) by the overlay tests.
        var used = Repo.Overlays
            .SelectMany(o => KustomizationFile.Load(Path.Combine("overlays", o)).List("components"))
            .Select(c => Path.GetFileName(c.TrimEnd('/')))
            .ToHashSet(StringComparer.Ordinal);

        Assert.NotEmpty(Repo.Components);
        foreach (var c in Repo.Components) Assert.True(used.Contains(c), $"component '{c}' is used by no overlay");
    }
}
