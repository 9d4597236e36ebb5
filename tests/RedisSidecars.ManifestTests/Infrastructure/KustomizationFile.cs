using k8s;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>A kustomization.yaml from the checkout, as plain YAML.</summary>
public sealed class KustomizationFile(Dictionary<object, object> body)
{
    public static KustomizationFile Load(string relativeDir) =>
        new(KubernetesYaml.Deserialize<Dictionary<object, object>>(Repo.Read("manifests", relativeDir, "kustomization.yaml")));

    public IReadOnlyList<string> List(string key) =>
        body.TryGetValue(key, out var v) && v is List<object> l ? l.Select(x => x.ToString()!).ToArray() : [];

    /// <summary>Every file a secretGenerator reads ("key=path" or "path").</summary>
    public IReadOnlyList<string> SecretFiles =>
        (body.TryGetValue("secretGenerator", out var g) && g is List<object> gens ? gens : [])
            .OfType<Dictionary<object, object>>()
            .SelectMany(gen => gen.TryGetValue("files", out var f) && f is List<object> files ? files.Select(x => x.ToString()!) : [])
            .Select(spec => spec.Contains('=', StringComparison.Ordinal) ? spec[(spec.IndexOf('=', StringComparison.Ordinal) + 1)..] : spec)
            .ToArray();
}
