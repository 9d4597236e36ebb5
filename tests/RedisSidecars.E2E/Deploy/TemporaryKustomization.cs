using System.Text;
using System.Text.Json;

namespace RedisSidecars.E2E.Deploy;

/// <summary>One image the overlay uses (by name, as rendered) and what the run deploys instead.</summary>
public sealed record ImageOverride(string RenderedName, ImageReference Target);

/// <summary>
/// The kustomization a run deploys: the overlay as a resource (so every generator, patch and hash suffix is the
/// overlay's own), moved into the run's namespace (kustomize renames the overlay's Namespace object and rewrites
/// RoleBinding subjects), the images replaced, and the Namespace labelled so that leftovers can be found.
/// </summary>
public static class TemporaryKustomization
{
    /// <summary>The label every namespace this suite creates carries (<c>kubectl delete namespace -l …</c> finds leftovers).</summary>
    public const string NamespaceLabel = "redissidecars.io/e2e";

    /// <param name="overlayPath">The overlay, relative to the kustomization's folder (kustomize refuses absolute paths).</param>
    public static string Render(string overlayPath, string ns, IReadOnlyList<ImageOverride> images)
    {
        if (Path.IsPathRooted(overlayPath)) throw new ArgumentException("kustomize accepts only a relative path to the overlay", nameof(overlayPath));
        var y = new StringBuilder();
        y.Append("# Written by the end-to-end suite for one run; deleted with the run.\n");
        y.Append("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
        y.Append("namespace: ").Append(Q(ns)).Append('\n');
        y.Append("resources:\n  - ").Append(Q(overlayPath)).Append('\n');
        if (images.Count > 0)
        {
            y.Append("images:\n");
            foreach (var i in images)
            {
                y.Append("  - name: ").Append(Q(i.RenderedName)).Append('\n');
                y.Append("    newName: ").Append(Q(i.Target.Name)).Append('\n');
                if (i.Target.Tag is { } tag) y.Append("    newTag: ").Append(Q(tag)).Append('\n');
                if (i.Target.Digest is { } digest) y.Append("    digest: ").Append(Q(digest)).Append('\n');
            }
        }
        y.Append("patches:\n  - target:\n      kind: Namespace\n    patch: |-\n");
        y.Append("      apiVersion: v1\n      kind: Namespace\n      metadata:\n        name: any\n        labels:\n");
        y.Append("          ").Append(NamespaceLabel).Append(": \"true\"\n");
        return y.ToString();
    }

    /// <summary>A YAML double-quoted scalar (JSON string syntax is valid YAML).</summary>
    static string Q(string s) => JsonSerializer.Serialize(s, E2EJson.Default.String);
}
