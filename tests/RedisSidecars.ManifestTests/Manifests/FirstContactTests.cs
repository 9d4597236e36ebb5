using System.Text.RegularExpressions;
using k8s.Models;
using RedisSidecars.E2E.Deploy;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>
/// A fresh clone has no secret files (they are never committed, and kustomize can neither generate random
/// values nor run a script). `kubectl apply -k manifests/overlays/X` must then stop with an error that names
/// the exact command to run; after running that command from the repository root, the overlay renders and its
/// Secrets hold what the command wrote.
/// </summary>
public partial class FirstContactTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    [GeneratedRegex("run `(?<command>[^`]+)` first")]
    private static partial Regex NamedCommand();

    [Theory, MemberData(nameof(Overlays))]
    public void FreshClone_RenderStopsNamingTheCommand_WhichMakesItRender(string overlay)
    {
        var root = Directory.CreateTempSubdirectory("redis-sidecars-fresh-clone-");
        try
        {
            // A fresh clone: manifests/ without any overlay's secrets/ folder, at the same path from the root.
            Workspace.CopyTree(new DirectoryInfo(Repo.Manifests), new DirectoryInfo(Path.Combine(root.FullName, "manifests")));
            var overlayDir = Path.Combine("manifests", "overlays", overlay);
            Assert.False(Directory.Exists(Path.Combine(root.FullName, overlayDir, "secrets")));

            var (code, stdout, stderr) = Repo.Run("kubectl", ["kustomize", overlayDir], root.FullName);
            Assert.NotEqual(0, code);
            Assert.Empty(stdout); // nothing half-rendered to pipe into kubectl apply
            var match = NamedCommand().Match(stderr);
            Assert.True(match.Success, $"the error does not name a command to run:\n{stderr}");
            var command = match.Groups["command"].Value;
            Assert.Equal($"sh manifests/make-secrets.sh {overlay}", command);

            // Type exactly what the message says, from the repository root.
            var words = command.Split(' ');
            var (made, madeOut, madeErr) = Repo.Run(words[0], words[1..], root.FullName);
            Assert.True(made == 0, $"`{command}` failed: {madeOut}{madeErr}");
            Assert.Contains($"kubectl apply -k manifests/overlays/{overlay}", madeOut); // it says what comes next

            var (rendered, yaml, renderErr) = Repo.Run("kubectl", ["kustomize", overlayDir], root.FullName);
            Assert.True(rendered == 0, $"after `{command}` the overlay still does not render:\n{renderErr}");
            var auth = RenderedOverlay.Parse(overlay, yaml).All<V1Secret>().Single(s => s.Metadata.Name.StartsWith("redis-auth-", StringComparison.Ordinal));
            var written = File.ReadAllText(Path.Combine(root.FullName, overlayDir, "secrets", "redis-password.txt"));
            Assert.Equal(written, System.Text.Encoding.UTF8.GetString(auth.Data["redis-password"]));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void SecretFiles_AreOnlyThoseMakeSecretsWrites(string overlay)
    {
        // The entry that carries the message must still clean to a file the script writes, and no other entry may
        // point anywhere else (an entry outside secrets/ would be read from a committed file).
        var files = KustomizationFile.Load(Path.Combine("overlays", overlay)).SecretFiles;
        Assert.All(files, f => Assert.Matches("^secrets/[a-z-]+\\.txt$", f));
        Assert.Contains(KustomizationFile.Load(Path.Combine("overlays", overlay)).SecretFileSpecs,
            spec => spec.Contains($"`sh manifests/make-secrets.sh {overlay}`", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("secrets/a.txt", "secrets/a.txt")]
    [InlineData("secrets/x y/z/../../a.txt", "secrets/a.txt")]
    [InlineData("./secrets//a.txt", "secrets/a.txt")]
    [InlineData("../a.txt", "../a.txt")]
    [InlineData("secrets/../../a.txt", "../a.txt")]
    public void CleanPath_IsLexicalLikeGo(string path, string cleaned) =>
        Assert.Equal(cleaned, KustomizationFile.CleanPath(path));
}
