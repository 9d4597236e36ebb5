using System.Collections.Concurrent;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>
/// Renders overlays with <c>kubectl kustomize</c> in a temporary copy of manifests/, where
/// <c>make-secrets.sh</c> has written each overlay's (never committed) secret files, so the checkout stays clean.
/// Each overlay is rendered once per test run.
/// </summary>
public static class Kustomize
{
    static readonly Lazy<string> Copy = new(MakeCopy);
    static readonly ConcurrentDictionary<string, Lazy<RenderedOverlay>> Cache = new(StringComparer.Ordinal);

    /// <summary>The temporary copy of manifests/ (secret files written for every overlay).</summary>
    public static string ManifestsCopy => Copy.Value;

    public static RenderedOverlay Overlay(string name) =>
        Cache.GetOrAdd(name, n => new Lazy<RenderedOverlay>(() => RenderedOverlay.Parse(n, Render(Path.Combine("overlays", n))))).Value;

    /// <summary>Renders a kustomization under manifests/ (relative path) and returns the YAML; throws with kubectl's stderr on failure.</summary>
    public static string Render(string relativeDir)
    {
        var dir = Path.Combine(ManifestsCopy, relativeDir);
        var (code, stdout, stderr) = Repo.Run("kubectl", ["kustomize", dir], ManifestsCopy);
        if (code != 0) throw new InvalidOperationException($"kubectl kustomize {relativeDir} failed (exit {code}):\n{stderr}");
        return stdout;
    }

    static string MakeCopy()
    {
        var target = Path.Combine(Path.GetTempPath(), $"redis-sidecars-manifests-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Workspace.CopyTree(new DirectoryInfo(Repo.Manifests), new DirectoryInfo(target));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(target, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        foreach (var overlay in Repo.Overlays)
        {
            var (code, stdout, stderr) = Repo.Run("sh", [Path.Combine(target, "make-secrets.sh"), overlay], target);
            if (code != 0) throw new InvalidOperationException($"make-secrets.sh {overlay} failed (exit {code}):\n{stdout}{stderr}");
        }
        return target;
    }
}
