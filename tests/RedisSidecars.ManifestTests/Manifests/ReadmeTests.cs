using k8s.Models;
using RedisSidecars.Core.Settings;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>manifests/README.md walks through a real deployment; its commands must match the manifests.</summary>
public class ReadmeTests
{
    static readonly string Readme = Repo.Read("manifests", "README.md");

    [Fact]
    public void Readme_DescribesEveryOverlayAndComponent()
    {
        foreach (var overlay in Repo.Overlays) Assert.Contains($"| `{overlay}` |", Readme);
        foreach (var component in Repo.Components) Assert.Contains($"- `{component}`:", Readme);
    }

    [Fact]
    public void Readme_BuildsAndLoadsTheImagesTheManifestsUse()
    {
        var r = Kustomize.Overlay("dev");
        var images = r.AllContainers().Select(x => x.Container.Image).Where(Contract.IsOurImage).Distinct().ToArray();
        Assert.Equal(2, images.Length);
        foreach (var image in images)
        {
            var dockerfile = Contract.Program(image) == "redis-init" ? "Dockerfile.init" : "Dockerfile.sidecar";
            Assert.Contains($"docker build -f {dockerfile} -t {image} .", Readme);
            Assert.Contains(image, Readme.Split('\n').Single(l => l.Contains("kind load docker-image", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void Readme_DeploysDevAndWatchesTheLabel()
    {
        var r = Kustomize.Overlay("dev");
        var ns = r.All<V1Namespace>().Single().Metadata.Name;
        var label = r.Sidecar(r.SidecarContainer()).LabelName;
        var job = r.VerifyPod().OwnerName;

        Assert.Equal(SidecarDefaults.MasterLabelName, label);
        Assert.Contains("sh manifests/make-secrets.sh dev", Readme);
        Assert.Contains("kubectl apply -k manifests/overlays/dev", Readme);
        Assert.Contains($"kubectl -n {ns} get pods -L {label}", Readme);
        Assert.Contains($"-l {label}=master", Readme);
        Assert.Contains($"kubectl -n {ns} wait --for=condition=complete job/{job}", Readme);
        Assert.Contains($"kubectl -n {ns} rollout restart statefulset/{r.RedisPod().OwnerName}", Readme);
        Assert.Contains($"kubectl -n {ns} delete pod \"$MASTER\"", Readme);
    }

    [Fact]
    public void Readme_NamesEverySecretFileTheOverlaysRead()
    {
        foreach (var overlay in Repo.Overlays)
            foreach (var file in KustomizationFile.Load(Path.Combine("overlays", overlay)).SecretFiles)
                Assert.Contains($"`{Path.GetFileName(file)}`", Readme);
    }
}
