using RedisSidecars.Testing;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.InitConfig;

/// <summary>
/// The published redis-init and redis-sidecar (they share the settings validator) with the bad inputs seen in real
/// deployments, through a real process environment: exit 2, one error line naming the variable and the fix, nothing
/// written. Validation happens before any network work, so no server is needed.
/// </summary>
public sealed class PublishedBadSettingsTests : IDisposable
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    const string ServiceLinkLine =
        "SENTINEL_PORT='tcp://10.96.136.25:26379' is a Kubernetes service-link variable, injected by the kubelet for the Service named 'sentinel', " +
        "not this setting (expected a whole number from 1 to 65535; set enableServiceLinks: false in the pod spec, or set SENTINEL_PORT explicitly)";

    readonly ITestOutputHelper output;
    readonly int block = LoopbackBlocks.Next();
    readonly string root = Directory.CreateTempSubdirectory("redis-sidecars-bad-settings-").FullName;

    public PublishedBadSettingsTests(ITestOutputHelper output)
    {
        this.output = output;
        Directory.CreateDirectory(DataDir);
        Directory.CreateDirectory(ConfDir);
        File.WriteAllText(PasswordFile, "pw\n");
    }

    public void Dispose()
    {
        Directory.Delete(root, recursive: true);
        LoopbackBlocks.Release(block);
    }

    string DataDir => Path.Combine(root, "data");
    string ConfDir => Path.Combine(root, "conf");
    string PasswordFile => Path.Combine(root, "redis-password");

    /// <summary>The four ways the programs start: redis-init per mode, and redis-sidecar's run and verify.</summary>
    public static TheoryData<string> Programs => new() { "init-redis", "init-sentinel", "sidecar-run", "sidecar-verify" };

    Dictionary<string, string> Env(string program) => new()
    {
        ["POD_NAME"] = program == "init-sentinel" ? "sentinel-1" : "redis-1",
        ["POD_NAMESPACE"] = "it",
        ["REDIS_NODES"] = $"127.{block}.1.1:6379,127.{block}.1.2:6379,127.{block}.1.3:6379",
        ["SENTINEL_NODES"] = $"127.{block}.2.1:26379,127.{block}.2.2:26379,127.{block}.2.3:26379",
        ["ANNOUNCE_HOST"] = program == "init-sentinel" ? $"127.{block}.2.2" : $"127.{block}.1.2",
        ["HTTP_HOST"] = $"127.{block}.1.2",
        ["DATA_DIR"] = DataDir,
        ["DISCOVERY_TIMEOUT_MS"] = "500",
        ["REDIS_PASSWORD_FILE"] = PasswordFile,
    };

    string OutputFor(string program) => Path.Combine(ConfDir, program == "init-sentinel" ? "sentinel.conf" : "redis.conf");

    (string File, string[] Args) Command(string program) => program switch
    {
        "init-redis" => (Tools.RedisInit, ["redis", "--output", OutputFor(program)]),
        "init-sentinel" => (Tools.RedisInit, ["sentinel", "--output", OutputFor(program)]),
        "sidecar-run" => (Tools.RedisSidecar, ["run"]),
        _ => (Tools.RedisSidecar, ["verify"]),
    };

    async Task<(int Code, string Stdout, string Stderr)> RunAsync(string program, IDictionary<string, string> env, params string[] extra)
    {
        var (file, args) = Command(program);
        var result = await Tools.RunAsync(file, [.. args, .. extra], env, Timeout);
        output.WriteLine($"{program}: exit {result.Code}\nstdout: {result.Stdout}\nstderr: {result.Stderr}");
        return result;
    }

    /// <summary>Exit 2, exactly one line on stderr that starts with the program's prefix and contains <paramref name="text"/>; nothing written.</summary>
    void AssertRefused((int Code, string Stdout, string Stderr) r, string program, string text)
    {
        Assert.Equal(2, r.Code);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(program.StartsWith("init", StringComparison.Ordinal) ? "redis-init: error: " : "redis-sidecar: error: ", line, StringComparison.Ordinal);
        Assert.Contains(text, line, StringComparison.Ordinal);
        Assert.Equal("", r.Stdout);
        Assert.Empty(Directory.GetFiles(ConfDir));
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task ServiceLinkVariable_SentinelPortFromTheSentinelService_ExitTwoSayingSo(string program)
    {
        var env = Env(program);
        env["SENTINEL_PORT"] = "tcp://10.96.136.25:26379";
        env["SENTINEL_SERVICE_HOST"] = "10.96.136.25";
        env["SENTINEL_SERVICE_PORT"] = "26379";
        env["SENTINEL_PORT_26379_TCP"] = "tcp://10.96.136.25:26379";

        AssertRefused(await RunAsync(program, env), program, ServiceLinkLine);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task PasswordFileEmpty_ExitTwoNotAConfigWithoutAuth(string program)
    {
        foreach (var content in new[] { "", "\n" })
        {
            File.WriteAllText(PasswordFile, content);

            AssertRefused(await RunAsync(program, Env(program)), program,
                $"REDIS_PASSWORD_FILE='{PasswordFile}' holds no password (the file is empty; expected the password, on one line: an empty password would turn authentication off)");
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task SentinelPasswordFileOnlyNewline_ExitTwo(string program)
    {
        var file = Path.Combine(root, "sentinel-password");
        File.WriteAllText(file, "\n");
        var env = Env(program);
        env["SENTINEL_PASSWORD_FILE"] = file;

        AssertRefused(await RunAsync(program, env), program, $"SENTINEL_PASSWORD_FILE='{file}' holds no password (the file is empty;");
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task VariablesSetToEmptyInTheProcessEnvironment_ExitTwoNamingEach(string program)
    {
        var env = Env(program);
        env.Remove("REDIS_PASSWORD_FILE");
        env["REDIS_PASSWORD"] = "";
        env["REDIS_PORT"] = "";

        var r = await RunAsync(program, env);

        AssertRefused(r, program, "REDIS_PORT is set but empty (expected a whole number from 1 to 65535; or remove REDIS_PORT for the default 6379)");
        Assert.Contains("REDIS_PASSWORD is set but empty (expected the password: an empty password would turn authentication off", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task PasswordFileIsADirectory_SaysDirectory(string program)
    {
        var env = Env(program);
        env["REDIS_PASSWORD_FILE"] = root;

        AssertRefused(await RunAsync(program, env), program, $"REDIS_PASSWORD_FILE='{root}' is a directory, not a file (expected the path of a file holding the password");
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task PasswordFileNotReadable_SaysPermissionDenied(string program)
    {
        // As root every file is readable: run the binary as nobody (uid 65534), which may not read a 0600 root file.
        File.SetUnixFileMode(PasswordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var everyone = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(root, everyone);
        File.SetUnixFileMode(DataDir, everyone);
        File.SetUnixFileMode(ConfDir, everyone | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
        var env = Env(program);
        var (file, args) = Command(program);
        if (Environment.IsPrivilegedProcess) (file, args) = ("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", file, .. args]);

        var r = await Tools.RunAsync(file, args, env, Timeout);
        output.WriteLine($"exit {r.Code}\nstderr: {r.Stderr}");

        AssertRefused(r, program, $"REDIS_PASSWORD_FILE='{PasswordFile}' is not readable by this process (permission denied) (expected the path of a file holding the password");
    }

    [Fact]
    public async Task TemplateIsADirectory_SaysDirectoryNotPermissionDenied()
    {
        var r = await RunAsync("init-redis", Env("init-redis"), "--template", root);

        AssertRefused(r, "init-redis", $"--template '{root}' is a directory, not a file (expected the base config file, e.g. from a ConfigMap)");
    }

    [Fact]
    public async Task ConfigFileIsADirectory_BothProgramsSayDirectory()
    {
        foreach (var program in new[] { "init-redis", "sidecar-verify" })
            AssertRefused(await RunAsync(program, Env(program), "--config", root), program,
                $"--config '{root}' is a directory, not a file (expected a readable JSON object of settings");
    }

    [Fact]
    public async Task KubeconfigIsADirectory_SidecarSaysDirectory()
    {
        var env = Env("sidecar-run");
        env["KUBECONFIG"] = root;

        AssertRefused(await RunAsync("sidecar-run", env), "sidecar-run", $"KUBECONFIG='{root}' is a directory, not a file (expected a readable kubeconfig file");
    }
}
