using System.Text.RegularExpressions;
using System.Xml.Linq;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Images;

public class DockerfileTests
{
    /// <summary>Dockerfile → the project it publishes.</summary>
    public static TheoryData<string, string> Images => new()
    {
        { "Dockerfile.init", "src/InitConfig" },
        { "Dockerfile.sidecar", "src/SentinelSidecar" },
    };

    /// <summary>The publish commands CI runs: scripts/publish.sh when it exists, else the documented contract.</summary>
    static IReadOnlyList<string> CiPublishCommands()
    {
        var script = Repo.File("scripts", "publish.sh");
        var lines = File.Exists(script)
            ? File.ReadAllLines(script).Select(l => l.Trim()).Where(l => !l.StartsWith('#') && l.Contains("dotnet publish", StringComparison.Ordinal)).ToArray()
            : ["dotnet publish src/InitConfig -c Release -r linux-x64", "dotnet publish src/SentinelSidecar -c Release -r linux-x64"];
        Assert.Equal(2, lines.Length);
        return lines.Select(WithoutOutput).ToArray();
    }

    /// <summary>A command with its output option (-o X / --output X / -o=X) removed: where the binary lands may differ.</summary>
    static string WithoutOutput(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        for (var i = 0; i < words.Count; i++)
        {
            if (words[i] is "-o" or "--output") { words.RemoveRange(i, Math.Min(2, words.Count - i)); i--; }
            else if (words[i].StartsWith("-o=", StringComparison.Ordinal) || words[i].StartsWith("--output=", StringComparison.Ordinal)) { words.RemoveAt(i); i--; }
        }
        return string.Join(' ', words);
    }

    static string OutputOf(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var i = Array.FindIndex(words, w => w is "-o" or "--output");
        Assert.True(i >= 0 && i + 1 < words.Length, $"'{command}' has no -o: the final stage cannot know where the binary is");
        return words[i + 1];
    }

    static string AssemblyName(string project) =>
        XDocument.Load(Repo.File(project, Path.GetFileName(project) + ".csproj")).Descendants("AssemblyName").Single().Value;

    static string PublishCommand(Dockerfile d) =>
        Assert.Single(d.Instructions, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal)).Arguments;

    [Theory, MemberData(nameof(Images))]
    public void Dockerfile_PublishCommand_IsTheOneCiRuns(string dockerfile, string project)
    {
        var command = PublishCommand(Dockerfile.Load(dockerfile));

        Assert.Equal($"dotnet publish {project} -c Release -r linux-x64", WithoutOutput(command));
        Assert.Contains(WithoutOutput(command), CiPublishCommands());
    }

    [Theory, MemberData(nameof(Images))]
    public void Dockerfile_BaseImages_ArePinnedByTag(string dockerfile, string project)
    {
        _ = project;
        var d = Dockerfile.Load(dockerfile);
        var aliases = d.Stages.Select(s => s.Alias).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (image, _) in d.Stages.Where(s => !aliases.Contains(s.Image)))
        {
            var tag = Contract.Tag(image);
            Assert.True(tag is not null && tag != "latest" && !image.Contains('$', StringComparison.Ordinal), $"{dockerfile}: FROM {image} is not pinned by tag");
        }
    }

    [Theory, MemberData(nameof(Images))]
    public void Dockerfile_BuildStage_HasTheSdkOfGlobalJsonAndTheAotToolchain(string dockerfile, string project)
    {
        _ = project;
        var d = Dockerfile.Load(dockerfile);
        var build = d.Instructions.First(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal)).Stage;
        var sdk = d.Stages[build].Image;
        var globalJson = System.Text.Json.JsonDocument.Parse(Repo.Read("global.json")).RootElement.GetProperty("sdk").GetProperty("version").GetString()!;
        var major = string.Join('.', globalJson.Split('.').Take(2)); // 10.0

        Assert.Equal("mcr.microsoft.com/dotnet/sdk", Contract.Repository(sdk));
        Assert.StartsWith(major, Contract.Tag(sdk)!, StringComparison.Ordinal);
        var installs = string.Join(' ', d.In(build, "RUN").Select(i => i.Arguments));
        Assert.Matches(@"apt-get install[^&;]*\bclang\b", installs);
        Assert.Matches(@"apt-get install[^&;]*\bzlib1g-dev\b", installs);
    }

    [Theory, MemberData(nameof(Images))]
    public void Dockerfile_FinalStage_IsMinimalNonRootWithTheExactEntrypoint(string dockerfile, string project)
    {
        var d = Dockerfile.Load(dockerfile);
        var final = d.FinalStage;
        var binary = AssemblyName(project);
        var (image, _) = d.Stages[final];

        Assert.Equal("mcr.microsoft.com/dotnet/runtime-deps", Contract.Repository(image));
        // No shell in the image: nothing may RUN in the final stage.
        Assert.Empty(d.In(final, "RUN"));

        var user = Assert.Single(d.In(final, "USER")).Arguments;
        Assert.Matches("^[0-9]+(:[0-9]+)?$", user);
        Assert.All(user.Split(':'), id => Assert.NotEqual(0, int.Parse(id, System.Globalization.CultureInfo.InvariantCulture)));

        var entrypoint = Dockerfile.ExecForm(Assert.Single(d.In(final, "ENTRYPOINT")).Arguments);
        Assert.True(entrypoint is not null, "ENTRYPOINT must be the exec form (no shell in the image)");
        Assert.Equal([$"/{binary}"], entrypoint);
        Assert.Empty(d.In(final, "CMD"));

        // The binary copied is the one the publish command writes.
        var copy = Assert.Single(d.In(final, "COPY")).Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var from = copy.Single(w => w.StartsWith("--from=", StringComparison.Ordinal))["--from=".Length..];
        var build = d.Instructions.First(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal)).Stage;
        Assert.Equal(d.Stages[build].Alias, from);
        Assert.Equal([$"{OutputOf(PublishCommand(d)).TrimEnd('/')}/{binary}", $"/{binary}"], copy.Where(w => !w.StartsWith("--", StringComparison.Ordinal)));
    }

    [Theory, MemberData(nameof(Images))]
    public void Dockerfile_FinalStage_HasOciLabels(string dockerfile, string project)
    {
        var d = Dockerfile.Load(dockerfile);
        var labels = d.Labels(d.FinalStage);

        Assert.Equal(AssemblyName(project), labels["org.opencontainers.image.title"]);
        Assert.False(string.IsNullOrWhiteSpace(labels["org.opencontainers.image.description"]));
        Assert.True(labels.ContainsKey("org.opencontainers.image.version"));
        Assert.True(labels.ContainsKey("org.opencontainers.image.revision"));
    }

    [Theory, MemberData(nameof(Images))]
    public void Dockerfile_RestoreLayer_CopiesEveryProjectThePublishNeeds(string dockerfile, string project)
    {
        var d = Dockerfile.Load(dockerfile);
        var restore = d.Instructions.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        if (restore < 0) return; // no separate restore layer: the whole tree is copied before publish
        var copied = d.Instructions.Take(restore).Where(i => i.Keyword == "COPY")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
            .ToHashSet(StringComparer.Ordinal);

        foreach (var csproj in ProjectClosure($"{project}/{Path.GetFileName(project)}.csproj"))
            Assert.True(copied.Contains(csproj), $"{dockerfile}: {csproj} is referenced by {project} but not copied before `dotnet restore`");
        foreach (var buildFile in new[] { "global.json", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "NuGet.config", "nuget.config" }
                     .Where(f => File.Exists(Repo.File(f))))
            Assert.True(copied.Contains(buildFile), $"{dockerfile}: {buildFile} affects restore but is not copied before it");
    }

    /// <summary>A project and every project it references, transitively, as repo-relative paths.</summary>
    static IReadOnlySet<string> ProjectClosure(string csproj)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var todo = new Stack<string>([csproj]);
        while (todo.Count > 0)
        {
            var p = todo.Pop();
            if (!seen.Add(p)) continue;
            var dir = Path.GetDirectoryName(p)!;
            foreach (var include in XDocument.Load(Repo.File(p)).Descendants("ProjectReference").Select(e => e.Attribute("Include")!.Value))
                todo.Push(Path.GetRelativePath(Repo.Root, Path.GetFullPath(Path.Combine(Repo.Root, dir, include.Replace('\\', '/')))).Replace('\\', '/'));
        }
        return seen;
    }

    [Fact]
    public void Dockerignore_ExcludesBuildOutputAndGitButNotTheSources()
    {
        var patterns = File.ReadAllLines(Repo.File(".dockerignore")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();

        foreach (var path in new[] { ".git/HEAD", "artifacts/bin/x.dll", "src/InitConfig/bin/Debug/x.dll", "src/InitConfig/obj/project.assets.json", "tests/x/bin/y" })
            Assert.True(Ignored(patterns, path), $".dockerignore lets {path} into the build context");
        foreach (var dockerfile in new[] { "Dockerfile.init", "Dockerfile.sidecar" })
            foreach (var copy in Dockerfile.Load(dockerfile).Instructions.Where(i => i.Keyword == "COPY" && !i.Arguments.Contains("--from", StringComparison.Ordinal)))
                foreach (var source in copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
                    Assert.False(Ignored(patterns, source.TrimEnd('/') + (source.EndsWith('/') ? "/Program.cs" : "")), $".dockerignore hides {source}, which {dockerfile} copies");
    }

    /// <summary>Docker's .dockerignore matching (Go filepath.Match with **), last matching pattern wins, ! re-includes.</summary>
    static bool Ignored(IEnumerable<string> patterns, string path)
    {
        var ignored = false;
        foreach (var raw in patterns)
        {
            var negate = raw.StartsWith('!');
            var pattern = (negate ? raw[1..] : raw).Trim('/');
            var regex = "^" + Regex.Escape(pattern).Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal).Replace(@"\*\*", ".*", StringComparison.Ordinal)
                .Replace(@"\*", "[^/]*", StringComparison.Ordinal).Replace(@"\?", "[^/]", StringComparison.Ordinal) + "(/.*)?$";
            if (Regex.IsMatch(path, regex)) ignored = !negate;
        }
        return ignored;
    }
}
