using RedisSidecars.Core.Settings;
using RedisSidecars.UnitTests.Sidecar;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

/// <summary>The one describer of unusable paths: a directory, a missing path and a permission problem each in their own words.</summary>
public sealed class PathProblemTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("path-problem-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void TryRead_RealDirectory_SaysDirectoryNotPermission()
    {
        // Linux refuses to open a directory for reading with EISDIR, which .NET reports as "access denied".
        Assert.Throws<UnauthorizedAccessException>(() => File.ReadAllText(root));

        Assert.Null(PathProblem.TryRead(PhysicalSettingsFiles.Instance, root, out var problem));
        Assert.Equal("is a directory, not a file", problem);
    }

    [Fact]
    public void TryRead_RealMissingFile_DoesNotExist()
    {
        Assert.Null(PathProblem.TryRead(PhysicalSettingsFiles.Instance, Path.Combine(root, "absent"), out var problem));
        Assert.Equal("does not exist", problem);
    }

    [Fact]
    public void TryRead_RealFileInMissingDirectory_SaysTheDirectoryIsMissingToo()
    {
        var dir = Path.Combine(root, "unmounted");

        Assert.Null(PathProblem.TryRead(PhysicalSettingsFiles.Instance, Path.Combine(dir, "key"), out var problem));
        Assert.Equal($"does not exist, and neither does its directory '{dir}'", problem);
    }

    [Fact]
    public void TryRead_RealFile_Content()
    {
        var file = Path.Combine(root, "f");
        File.WriteAllText(file, "content");

        Assert.Equal("content", PathProblem.TryRead(PhysicalSettingsFiles.Instance, file, out var problem));
        Assert.Null(problem);
    }

    [Fact]
    public void TryRead_UnreadableFile_PermissionDenied()
    {
        Assert.Null(PathProblem.TryRead(new FakeSettingsFiles().WithUnreadable("/s/pw"), "/s/pw", out var problem));
        Assert.Equal("is not readable by this process (permission denied)", problem);
    }

    [Fact]
    public void OfDirectory_FileMissingAndDirectory_EachInItsOwnWords()
    {
        var file = Path.Combine(root, "f");
        File.WriteAllText(file, "");
        var files = PhysicalSettingsFiles.Instance;

        Assert.Null(PathProblem.OfDirectory(files, root));
        Assert.Equal("is a file, not a directory", PathProblem.OfDirectory(files, file));
        Assert.Equal("does not exist", PathProblem.OfDirectory(files, Path.Combine(root, "d")));
    }

    [Fact]
    public void OfAccess_PermissionAndOtherFailures_Distinguished()
    {
        Assert.Equal("is not writable by this process (permission denied)", PathProblem.OfAccess(new UnauthorizedAccessException(), writing: true));
        Assert.Equal("is not readable by this process (permission denied)", PathProblem.OfAccess(new UnauthorizedAccessException(), writing: false));
        Assert.Equal("cannot be used (IOException)", PathProblem.OfAccess(new IOException("disk full"), writing: true));
    }

    // ---- every file setting of both programs ----

    public static TheoryData<string, string, string> FileSettingCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var name in new[] { "REDIS_PASSWORD_FILE", "SENTINEL_PASSWORD_FILE", "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE", "KUBECONFIG" })
        {
            data.Add(name, "/mnt/dir", "is a directory, not a file");
            data.Add(name, "/mnt/absent", "does not exist");
            data.Add(name, "/unmounted/file", "does not exist, and neither does its directory '/unmounted'");
            data.Add(name, "/mnt/locked", "is not readable by this process (permission denied)");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FileSettingCases))]
    public void Validate_FileSettingUnusable_ErrorNamesVariablePathAndCause(string name, string path, string cause)
    {
        var files = new FakeSettingsFiles()
            .With("/mnt/ok.pem", "-----BEGIN CERTIFICATE-----")
            .WithDirectory("/mnt/dir")
            .WithUnreadable("/mnt/locked");

        var (settings, errors) = SidecarSettingsBuilder.Validate(0, side: o =>
        {
            if (name == "KUBECONFIG") o.KubeConfig = path;
        }, raw: r =>
        {
            if (name.StartsWith("TLS_", StringComparison.Ordinal))
            {
                r.TlsEnabled = "true";
                r.TlsCaFile = r.TlsCertFile = r.TlsKeyFile = "/mnt/ok.pem";
            }
            switch (name)
            {
                case "REDIS_PASSWORD_FILE": r.RedisPasswordFile = path; break;
                case "SENTINEL_PASSWORD_FILE": r.SentinelPasswordFile = path; break;
                case "TLS_CA_FILE": r.TlsCaFile = path; break;
                case "TLS_CERT_FILE": r.TlsCertFile = path; break;
                case "TLS_KEY_FILE": r.TlsKeyFile = path; break;
            }
        }, files: files);

        Assert.Null(settings);
        var error = Assert.Single(errors);
        Assert.StartsWith($"{name}='{path}' {cause} (expected ", error, StringComparison.Ordinal);
    }
}
