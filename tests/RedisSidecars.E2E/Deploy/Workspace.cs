using RedisSidecars.E2E.Cluster;

namespace RedisSidecars.E2E.Deploy;

/// <summary>
/// A private temporary folder (mode 0700) for one run: a copy of manifests/ without any secret files from the
/// checkout, the overlay's secrets freshly written by make-secrets.sh, and the run's kustomization beside it. The
/// checkout is never written to. Deleted on dispose.
/// </summary>
public sealed class Workspace : IDisposable
{
    static readonly TimeSpan KubectlTimeout = TimeSpan.FromMinutes(2);

    Workspace(string root, string overlay)
    {
        Root = root;
        Overlay = overlay;
    }

    public string Root { get; }
    public string Overlay { get; }
    public string Manifests => Path.Combine(Root, "manifests");
    public string OverlayDir => Path.Combine(Manifests, "overlays", Overlay);
    public string RunDir => Path.Combine(Root, "run");

    /// <summary>manifests/ next to RedisSidecars.sln above this program, unless given.</summary>
    public static string FindManifests(string? given)
    {
        if (given is not null) return Path.GetFullPath(given);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RedisSidecars.sln"))) return Path.Combine(dir.FullName, "manifests");
        throw new InvalidOperationException($"no RedisSidecars.sln above {AppContext.BaseDirectory}: pass --manifests DIR");
    }

    public static async Task<Workspace> CreateAsync(string manifests, string overlay, CancellationToken ct)
    {
        if (!Directory.Exists(Path.Combine(manifests, "overlays", overlay)))
            throw new InvalidOperationException($"no overlay '{overlay}' under {Path.Combine(manifests, "overlays")}");
        var root = Directory.CreateTempSubdirectory("redis-sidecars-e2e-").FullName; // 0700
        var ws = new Workspace(root, overlay);
        try
        {
            CopyTree(new DirectoryInfo(manifests), new DirectoryInfo(ws.Manifests));
            var made = await Processes.RunAsync("sh", [Path.Combine(ws.Manifests, "make-secrets.sh"), overlay], KubectlTimeout, ct, root).ConfigureAwait(false);
            if (made.Code != 0) throw new InvalidOperationException($"make-secrets.sh {overlay} failed (exit {made.Code}): {made.Stderr.Trim()}");
            Directory.CreateDirectory(ws.RunDir);
            return ws;
        }
        catch
        {
            ws.Dispose();
            throw;
        }
    }

    /// <summary>Copies a manifests/ tree except overlays/*/secrets (a developer's own secret files stay where they are).</summary>
    public static void CopyTree(DirectoryInfo from, DirectoryInfo to)
    {
        to.Create();
        foreach (var f in from.GetFiles()) f.CopyTo(Path.Combine(to.FullName, f.Name));
        foreach (var d in from.GetDirectories())
        {
            if (d.Name == "secrets" && d.Parent?.Parent?.Name == "overlays") continue;
            CopyTree(d, new DirectoryInfo(Path.Combine(to.FullName, d.Name)));
        }
    }

    public Task<string> RenderOverlayAsync(CancellationToken ct) => RenderAsync(OverlayDir, ct);

    public void WriteRunKustomization(string ns, IReadOnlyList<ImageOverride> images) =>
        File.WriteAllText(Path.Combine(RunDir, "kustomization.yaml"),
            TemporaryKustomization.Render(Path.GetRelativePath(RunDir, OverlayDir).Replace('\\', '/'), ns, images));

    public Task<string> RenderRunAsync(CancellationToken ct) => RenderAsync(RunDir, ct);

    static async Task<string> RenderAsync(string dir, CancellationToken ct)
    {
        var r = await Processes.RunAsync("kubectl", ["kustomize", dir], KubectlTimeout, ct).ConfigureAwait(false);
        return r.Code == 0 ? r.Stdout : throw new InvalidOperationException($"kubectl kustomize {dir} failed (exit {r.Code}): {r.Stderr.Trim()}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
