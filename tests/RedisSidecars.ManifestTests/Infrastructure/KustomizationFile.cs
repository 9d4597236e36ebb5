using k8s;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>A kustomization.yaml from the checkout, as plain YAML.</summary>
public sealed class KustomizationFile(Dictionary<object, object> body)
{
    public static KustomizationFile Load(string relativeDir) =>
        new(KubernetesYaml.Deserialize<Dictionary<object, object>>(Repo.Read("manifests", relativeDir, "kustomization.yaml")));

    public IReadOnlyList<string> List(string key) =>
        body.TryGetValue(key, out var v) && v is List<object> l ? l.Select(x => x.ToString()!).ToArray() : [];

    /// <summary>Every secretGenerator file entry as written ("key=path" or "path"): what kustomize prints when one is missing.</summary>
    public IReadOnlyList<string> SecretFileSpecs =>
        (body.TryGetValue("secretGenerator", out var g) && g is List<object> gens ? gens : [])
            .OfType<Dictionary<object, object>>()
            .SelectMany(gen => gen.TryGetValue("files", out var f) && f is List<object> files ? files.Select(x => x.ToString()!) : [])
            .ToArray();

    /// <summary>Every file a secretGenerator reads, relative to the overlay, cleaned as kustomize cleans it.</summary>
    public IReadOnlyList<string> SecretFiles =>
        SecretFileSpecs
            .Select(spec => spec.Contains('=', StringComparison.Ordinal) ? spec[(spec.IndexOf('=', StringComparison.Ordinal) + 1)..] : spec)
            .Select(CleanPath)
            .ToArray();

    /// <summary>A relative path cleaned lexically, as kustomize (Go's filepath.Join) does before it opens the file.</summary>
    public static string CleanPath(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == ".." && parts.Count > 0 && parts[^1] != "..") parts.RemoveAt(parts.Count - 1);
            else parts.Add(part);
        }
        return string.Join('/', parts);
    }
}
