using System.Diagnostics;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>Paths in the checkout, found from the test assembly's location (the folder holding RedisSidecars.sln).</summary>
public static class Repo
{
    static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "RedisSidecars.sln"))) return dir.FullName;
        throw new InvalidOperationException($"RedisSidecars.sln not found above {AppContext.BaseDirectory}");
    });

    public static string Root => RootPath.Value;
    public static string Manifests => Path.Combine(Root, "manifests");
    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);
    public static string Read(params string[] parts) => System.IO.File.ReadAllText(File(parts));

    /// <summary>Overlay names: every folder under manifests/overlays.</summary>
    public static IReadOnlyList<string> Overlays =>
        Directory.GetDirectories(Path.Combine(Manifests, "overlays")).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    public static IReadOnlyList<string> Components =>
        Directory.GetDirectories(Path.Combine(Manifests, "components")).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    /// <summary>Runs a program to completion; returns exit code, stdout and stderr. Fails the test if it cannot start or hangs.</summary>
    public static (int Code, string Out, string Err) Run(string program, IEnumerable<string> args, string workDir, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in time");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
