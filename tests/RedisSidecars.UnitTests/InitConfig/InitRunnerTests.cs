using RedisSidecars.Core.Discovery;
using RedisSidecars.InitConfig;
using RedisSidecars.UnitTests.Core;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.InitConfig;

/// <summary>
/// redis-init end to end in process: settings from an environment dictionary, a scripted discovery client,
/// a virtual clock, and real files in a temp directory.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InitRunnerTests : IDisposable
{
    const string Secret = "Sup3r-S3cret-Passw0rd";
    static readonly byte[] PreviousContent = "# previous config\nport 6379\n"u8.ToArray();

    readonly string root = Directory.CreateTempSubdirectory("redis-init-tests-").FullName;
    readonly StringWriter stdout = new();
    readonly StringWriter stderr = new();
    readonly FakeDiscoveryClient client = new();
    readonly SteppingClock clock = new();

    public InitRunnerTests()
    {
        Directory.CreateDirectory(OutDir);
        Directory.CreateDirectory(DataDir);
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    string OutDir => Path.Combine(root, "conf");
    string DataDir => Path.Combine(root, "data");
    string RedisConf => Path.Combine(OutDir, "redis.conf");
    string SentinelConf => Path.Combine(OutDir, "sentinel.conf");
    string[] StdoutLines => Lines(stdout);
    string[] StderrLines => Lines(stderr);

    static string[] Lines(StringWriter w) => w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    /// <summary>The environment of Redis pod <paramref name="ordinal"/>: loopback node lists, an empty data dir, a password.</summary>
    Dictionary<string, string?> RedisEnv(int ordinal) => new()
    {
        ["POD_NAME"] = $"redis-{ordinal}",
        ["ANNOUNCE_HOST"] = $"127.0.1.{ordinal + 1}",
        ["REDIS_NODES"] = Topology.RedisList,
        ["SENTINEL_NODES"] = Topology.SentinelList,
        ["DATA_DIR"] = DataDir,
        ["DISCOVERY_TIMEOUT_MS"] = "1000",
        ["REDIS_PASSWORD"] = Secret,
    };

    Dictionary<string, string?> SentinelEnv(int ordinal) => new()
    {
        ["POD_NAME"] = $"sentinel-{ordinal}",
        ["ANNOUNCE_HOST"] = $"127.0.2.{ordinal + 1}",
        ["REDIS_NODES"] = Topology.RedisList,
        ["SENTINEL_NODES"] = Topology.SentinelList,
        ["DISCOVERY_TIMEOUT_MS"] = "1000",
        ["REDIS_PASSWORD"] = Secret,
    };

    Task<int> Run(IDictionary<string, string?> env, params string[] args) =>
        clock.RunAsync(() => new InitRunner(stdout, stderr, clock, env, _ => client).RunAsync(args, CancellationToken.None));

    void AssertSecretNotPrinted()
    {
        Assert.DoesNotContain(Secret, stdout.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, stderr.ToString(), StringComparison.Ordinal);
    }

    static void AssertOwnerOnly(string path) =>
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

    // ---- bad input: exit 2, one error line, nothing written ----

    /// <summary>(arguments after the mode, environment change, text the error line must contain).</summary>
    static readonly Dictionary<string, (Func<InitRunnerTests, string[]> Args, Action<InitRunnerTests, Dictionary<string, string?>> Env, string Names)> BadInputs = new()
    {
        ["template-missing"] = (t => ["--output", t.RedisConf, "--template", Path.Combine(t.root, "no-such-template.conf")], (_, _) => { }, "--template"),
        ["pod-name-malformed"] = (t => ["--output", t.RedisConf], (_, e) => e["POD_NAME"] = "Redis-1", "POD_NAME='Redis-1'"),
        ["pod-name-no-ordinal"] = (t => ["--output", t.RedisConf], (_, e) => e["POD_NAME"] = "redis", "POD_NAME='redis'"),
        ["password-newline"] = (t => ["--output", t.RedisConf], (_, e) => e["REDIS_PASSWORD"] = Secret + "\nsecond-line", "REDIS_PASSWORD"),
        ["password-file-newline"] = (t => ["--output", t.RedisConf], (t, e) =>
        {
            var file = Path.Combine(t.root, "password");
            File.WriteAllText(file, Secret + "\nsecond-line\n");
            e["REDIS_PASSWORD"] = null;
            e["REDIS_PASSWORD_FILE"] = file;
        }, "REDIS_PASSWORD_FILE"),
        ["password-file-missing"] = (t => ["--output", t.RedisConf], (t, e) => { e["REDIS_PASSWORD"] = null; e["REDIS_PASSWORD_FILE"] = Path.Combine(t.root, "nope"); }, "REDIS_PASSWORD_FILE"),
        ["redis-nodes-malformed"] = (t => ["--output", t.RedisConf], (_, e) => e["REDIS_NODES"] = "127.0.1.1:6379,::1:6379", "REDIS_NODES"),
        ["setting-argument-malformed"] = (t => ["--output", t.RedisConf, "--SENTINEL_QUORUM=9"], (_, _) => { }, "SENTINEL_QUORUM='9'"),
        ["config-json-invalid"] = (t =>
        {
            var json = Path.Combine(t.root, "settings.json");
            File.WriteAllText(json, "{ not json");
            return ["--output", t.RedisConf, "--config", json];
        }, (_, _) => { }, "--config"),
        ["unknown-argument"] = (t => ["--output", t.RedisConf, "--frobnicate"], (_, _) => { }, "unknown argument '--frobnicate'"),
        ["output-is-directory"] = (t => ["--output", t.OutDir], (_, _) => { }, "conf' is a directory, not a file (expected the path of the config file to write"),
        // Each path's cause in its own words (a directory used to read as "permission denied").
        ["template-is-directory"] = (t => ["--output", t.RedisConf, "--template", t.root], (_, _) => { }, "' is a directory, not a file (expected the base config file"),
        ["template-absent"] = (t => ["--output", t.RedisConf, "--template", Path.Combine(t.root, "none.conf")], (_, _) => { }, "none.conf' does not exist (expected the base config file"),
        ["template-dir-absent"] = (t => ["--output", t.RedisConf, "--template", Path.Combine(t.root, "cm", "redis.conf")], (_, _) => { },
            "redis.conf' does not exist, and neither does its directory"),
        ["config-is-directory"] = (t => ["--output", t.RedisConf, "--config", t.root], (_, _) => { }, "' is a directory, not a file (expected a readable JSON object of settings"),
        ["config-absent"] = (t => ["--output", t.RedisConf, "--config", Path.Combine(t.root, "settings.json")], (_, _) => { }, "settings.json' does not exist"),
        ["password-file-is-directory"] = (t => ["--output", t.RedisConf], (t, e) => { e["REDIS_PASSWORD"] = null; e["REDIS_PASSWORD_FILE"] = t.root; },
            "' is a directory, not a file (expected the path of a file holding the password"),
        ["data-dir-absent"] = (t => ["--output", t.RedisConf], (t, e) => e["DATA_DIR"] = Path.Combine(t.root, "no-data"), "no-data' does not exist (expected the mount path of the Redis data volume"),
        ["data-dir-is-file"] = (t => ["--output", t.RedisConf], (t, e) =>
        {
            var file = Path.Combine(t.root, "data-file");
            File.WriteAllText(file, "x");
            e["DATA_DIR"] = file;
        }, "data-file' is a file, not a directory"),
        // Never a weaker configuration than asked for: a password asked for but empty is no password at all.
        ["password-file-empty"] = (t => ["--output", t.RedisConf], (t, e) => e.WithPasswordFile(t.root, ""), "holds no password (the file is empty;"),
        ["password-file-only-newline"] = (t => ["--output", t.RedisConf], (t, e) => e.WithPasswordFile(t.root, "\n"), "holds no password (the file is empty;"),
        ["password-env-empty"] = (t => ["--output", t.RedisConf], (_, e) => e["REDIS_PASSWORD"] = "", "REDIS_PASSWORD is set but empty"),
        ["password-file-variable-empty"] = (t => ["--output", t.RedisConf], (_, e) => { e["REDIS_PASSWORD"] = null; e["REDIS_PASSWORD_FILE"] = ""; },
            "REDIS_PASSWORD_FILE is set but empty"),
        ["setting-empty"] = (t => ["--output", t.RedisConf], (_, e) => e["REDIS_PORT"] = "", "REDIS_PORT is set but empty"),
        ["setting-argument-empty"] = (t => ["--output", t.RedisConf, "--MASTER_SET_NAME="], (_, _) => { }, "MASTER_SET_NAME is set but empty"),
        ["sentinel-port-service-link"] = (t => ["--output", t.RedisConf], (_, e) => e["SENTINEL_PORT"] = "tcp://10.96.136.25:26379",
            "SENTINEL_PORT='tcp://10.96.136.25:26379' is a Kubernetes service-link variable, injected by the kubelet for the Service named 'sentinel'"),
        ["template-tls-port-without-tls"] = (t =>
        {
            var template = Path.Combine(t.root, "tls.conf");
            File.WriteAllText(template, "port 0\ntls-port 6379\ntls-cert-file /tls/tls.crt\n");
            return ["--output", t.RedisConf, "--template", template];
        }, (_, _) => { }, "has 'tls-port 6379' but TLS_ENABLED is not true"),
    };

    public static TheoryData<string, bool> BadInputCases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in BadInputs.Keys)
        {
            data.Add(name, false);
            if (name != "output-is-directory") data.Add(name, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BadInputCases))]
    public async Task RunAsync_BadInput_ExitTwoOneErrorLineAndOutputUntouched(string name, bool previousExists)
    {
        var (args, tweak, names) = BadInputs[name];
        var env = RedisEnv(1);
        tweak(this, env);
        if (previousExists) File.WriteAllBytes(RedisConf, PreviousContent);

        var code = await Run(env, ["redis", .. args(this)]);

        Assert.Equal(ExitCodes.BadConfiguration, code);
        var line = Assert.Single(StderrLines);
        Assert.StartsWith("redis-init: error: ", line, StringComparison.Ordinal);
        Assert.Contains(names, line, StringComparison.Ordinal);
        Assert.Empty(StdoutLines);
        AssertSecretNotPrinted();
        if (previousExists) Assert.Equal(PreviousContent, File.ReadAllBytes(RedisConf));
        else Assert.False(File.Exists(RedisConf), "no output may be created");
        Assert.Equal(previousExists ? ["redis.conf"] : [], Directory.GetFiles(OutDir).Select(Path.GetFileName));
        Assert.Empty(client.SentinelCalls); // validation happens before any network work
    }

    [Fact]
    public async Task RunAsync_SentinelPasswordFileEmpty_ExitTwoNoSentinelConfig()
    {
        var env = SentinelEnv(1);
        var file = Path.Combine(root, "sentinel-password");
        File.WriteAllText(file, "\n");
        env["SENTINEL_PASSWORD_FILE"] = file;

        var code = await Run(env, "sentinel", "--output", SentinelConf);

        Assert.Equal(ExitCodes.BadConfiguration, code);
        Assert.Equal($"redis-init: error: SENTINEL_PASSWORD_FILE='{file}' holds no password (the file is empty; expected the password, on one line: an empty password would turn authentication off)",
            Assert.Single(StderrLines));
        Assert.False(File.Exists(SentinelConf));
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("sentinel")]
    public async Task RunAsync_TemplatePortDiffersFromSetting_GeneratedPortIsTheOnlyOne(string mode)
    {
        var redis = mode == "redis";
        var template = Path.Combine(root, "base.conf");
        File.WriteAllText(template, redis ? "bind * -::*\nport 6379\ndir /data\n" : "bind * -::*\nPORT 26379\ntls-port 0\n");
        var env = redis ? RedisEnv(1) : SentinelEnv(1);
        env["REDIS_PORT"] = "6390";
        env["SENTINEL_PORT"] = "26390";
        env["REDIS_NODES"] = "127.0.1.1:6390,127.0.1.2:6390,127.0.1.3:6390";
        env["SENTINEL_NODES"] = "127.0.2.1:26390,127.0.2.2:26390,127.0.2.3:26390";
        client.Sentinels = FakeDiscoveryClient.AllSay(new(RedisNode(0).Host, 6390));

        var code = await Run(env, mode, "--output", redis ? RedisConf : SentinelConf, "--template", template);

        Assert.Equal(ExitCodes.Ok, code);
        var lines = File.ReadAllLines(redis ? RedisConf : SentinelConf);
        var port = redis ? "6390" : "26390";
        Assert.Equal([$"port {port}"], lines.Where(l => ConfigQuotingDirective(l) is "port" or "tls-port"));
        Assert.Contains(redis ? "replica-announce-port 6390" : "sentinel announce-port 26390", lines);
    }

    static string? ConfigQuotingDirective(string line) => RedisSidecars.Core.Rendering.ConfigQuoting.Directive(line)?[0];

    [Fact]
    public async Task RunAsync_OutputDirectoryMissing_ExitTwoNamingOutput()
    {
        var output = Path.Combine(root, "missing", "dir", "redis.conf");

        var code = await Run(RedisEnv(1), "redis", "--output", output);

        Assert.Equal(ExitCodes.BadConfiguration, code);
        var line = Assert.Single(StderrLines);
        Assert.Equal($"redis-init: error: --output '{output}' cannot be written: its directory '{Path.GetDirectoryName(output)}' does not exist, " +
            "and neither does its directory '" + Path.Combine(root, "missing") + "' (expected the path of the config file to write, in a writable directory such as an emptyDir)", line);
        Assert.False(Directory.Exists(Path.Combine(root, "missing")));
    }

    [Fact]
    public async Task RunAsync_OutputParentIsARegularFile_ExitTwoNamingOutput()
    {
        // Tests run as root, so a chmod 0500 directory would still be writable; a file as parent is not.
        var notADir = Path.Combine(root, "plain-file");
        File.WriteAllBytes(notADir, PreviousContent);

        var code = await Run(RedisEnv(1), "redis", "--output", Path.Combine(notADir, "redis.conf"));

        Assert.Equal(ExitCodes.BadConfiguration, code);
        var line = Assert.Single(StderrLines);
        Assert.StartsWith($"redis-init: error: --output '{Path.Combine(notADir, "redis.conf")}' cannot be written: its directory '{notADir}' is a file, not a directory", line, StringComparison.Ordinal);
        Assert.Equal(PreviousContent, File.ReadAllBytes(notADir));
    }

    [Fact]
    public async Task RunAsync_SeveralBadInputs_AllOnOneErrorLine()
    {
        var env = RedisEnv(1);
        env["POD_NAME"] = "redis";
        env["REDIS_PASSWORD"] = Secret + "\n";

        var code = await Run(env, "redis", "--output", RedisConf, "--template", Path.Combine(root, "none.conf"));

        Assert.Equal(ExitCodes.BadConfiguration, code);
        var line = Assert.Single(StderrLines);
        Assert.Contains("POD_NAME", line);
        Assert.Contains("REDIS_PASSWORD", line);
        Assert.Contains("--template", line);
        AssertSecretNotPrinted();
    }

    // ---- success ----

    [Fact]
    public async Task RunAsync_SentinelsAgreeOnAnother_WritesOwnerOnlyReplicaConfigAndOneStdoutLine()
    {
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(0));
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(0));

        var code = await Run(RedisEnv(1), "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["role=replica master=127.0.1.1:6379 source=sentinels agree=3/3"], StdoutLines);
        Assert.Empty(StderrLines);
        AssertSecretNotPrinted();
        AssertOwnerOnly(RedisConf);
        var conf = File.ReadAllText(RedisConf);
        Assert.EndsWith("replicaof 127.0.1.1 6379\n", conf, StringComparison.Ordinal);
        Assert.Contains($"requirepass \"{Secret}\"\n", conf, StringComparison.Ordinal);
        Assert.Contains("replica-announce-ip 127.0.1.2\n", conf, StringComparison.Ordinal);
        Assert.Contains($"dir \"{DataDir}\"\n", conf, StringComparison.Ordinal); // the built-in base
        Assert.Equal(["redis.conf"], Directory.GetFiles(OutDir).Select(Path.GetFileName)); // no temp or probe files left
    }

    [Fact]
    public async Task RunAsync_PreviousWorldReadableFile_ReplacedByOwnerOnlyFile()
    {
        File.WriteAllBytes(RedisConf, PreviousContent);
        File.SetUnixFileMode(RedisConf, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var template = Path.Combine(root, "base.conf");
        File.WriteAllText(template, "port 6379\nreplicaof 10.0.0.9 6379\n");
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(2));

        var code = await Run(RedisEnv(1), "redis", "--output", RedisConf, "--template", template);

        Assert.Equal(ExitCodes.Ok, code);
        AssertOwnerOnly(RedisConf);
        var conf = File.ReadAllText(RedisConf);
        Assert.StartsWith("# ---- generated by redis-init", conf, StringComparison.Ordinal);
        Assert.Contains("\nport 6379\n", conf, StringComparison.Ordinal);
        Assert.DoesNotContain("10.0.0.9", conf, StringComparison.Ordinal);
        Assert.EndsWith("replicaof 127.0.1.3 6379\n", conf, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_SettingsFromArgumentsAndJson_LaterSourceWins()
    {
        var json = Path.Combine(root, "settings.json");
        File.WriteAllText(json, """{ "POD_NAME": "redis-2", "ANNOUNCE_HOST": "127.0.1.3", "MASTER_SET_NAME": "from-json" }""");
        var env = RedisEnv(1);
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(0));

        var code = await Run(env, "redis", "--output", RedisConf, "--config", json, "--POD_NAME=redis-1", "--ANNOUNCE_HOST", "127.0.1.2");

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Contains("replica-announce-ip 127.0.1.2\n", File.ReadAllText(RedisConf), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NothingReachablePodZero_BecomesMasterByDefault()
    {
        var code = await Run(RedisEnv(0), "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["role=master master=127.0.1.1:6379 source=default reason=nothing-reachable"], StdoutLines);
        Assert.DoesNotContain("replicaof", File.ReadAllText(RedisConf), StringComparison.Ordinal);
        // The reasons are on stderr, one line per unreachable node.
        Assert.Equal(5, StderrLines.Length);
        Assert.All(StderrLines, l => Assert.Matches("^redis-init: (sentinel|peer) 127\\.0\\.[12]\\.[0-9]+:[0-9]+: connection refused$", l));
        AssertSecretNotPrinted();
    }

    [Fact]
    public async Task RunAsync_NothingReachablePodTwo_ReplicatesPodZero()
    {
        var code = await Run(RedisEnv(2), "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["role=replica master=127.0.1.1:6379 source=default reason=nothing-reachable"], StdoutLines);
        Assert.EndsWith("replicaof 127.0.1.1 6379\n", File.ReadAllText(RedisConf), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_SplitBrainPeers_WarningOnStderrAndMostReplicasWins()
    {
        client.Peers = (_, p) => p.Equals(RedisNode(1))
            ? new PeerAnswer(p, PeerRole.Master, ConnectedReplicas: 1, Offset: 10, HoldsData: true)
            : new PeerAnswer(p, PeerRole.Master, ConnectedReplicas: 0, Offset: 99, HoldsData: true);

        var code = await Run(RedisEnv(0), "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.StartsWith("role=replica master=127.0.1.2:6379 source=peers masters=2", Assert.Single(StdoutLines), StringComparison.Ordinal);
        Assert.Contains(StderrLines, l => l.StartsWith("redis-init: warning: split brain", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_SentinelMode_WritesMonitorLineWithoutAskingItself()
    {
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(2));

        var code = await Run(SentinelEnv(1), "sentinel", "--output", SentinelConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["role=sentinel master=127.0.1.3:6379 source=sentinels agree=2/3"], StdoutLines);
        Assert.Equal([SentinelNode(0), SentinelNode(2)], Assert.Single(client.SentinelCalls));
        Assert.Empty(client.PeerCalls);
        AssertOwnerOnly(SentinelConf);
        var conf = File.ReadAllText(SentinelConf);
        Assert.Contains("sentinel monitor mymaster 127.0.1.3 6379 2\n", conf, StringComparison.Ordinal);
        Assert.Contains($"sentinel auth-pass mymaster \"{Secret}\"\n", conf, StringComparison.Ordinal);
        Assert.Contains("sentinel announce-ip 127.0.2.2\n", conf, StringComparison.Ordinal);
        Assert.Contains($"dir \"{OutDir}\"\n", conf, StringComparison.Ordinal);
        AssertSecretNotPrinted();
    }

    // ---- the empty-restart guard ----

    [Fact]
    public async Task RunAsync_NamedMasterWithEmptyDataUntilTimeout_ExitOneAndNothingWritten()
    {
        File.WriteAllBytes(RedisConf, PreviousContent);
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(0));
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(0), holdData: true);
        var env = RedisEnv(0);
        env["MASTER_WAIT_TIMEOUT_MS"] = "1000";
        var started = clock.GetUtcNow();

        var code = await Run(env, "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.RuntimeFailure, code);
        Assert.Empty(StdoutLines);
        Assert.Equal(2, StderrLines.Length);
        Assert.StartsWith("redis-init: warning: ", StderrLines[0], StringComparison.Ordinal);
        Assert.Contains("MASTER_WAIT_TIMEOUT_MS", StderrLines[0]);
        Assert.StartsWith("redis-init: error: refusing to start as master with an empty data directory", StderrLines[1], StringComparison.Ordinal);
        Assert.Contains("MASTER_WAIT_TIMEOUT_MS", StderrLines[1]);
        Assert.Contains("no config written", StderrLines[1]);
        Assert.Equal(PreviousContent, File.ReadAllBytes(RedisConf));
        Assert.Equal(2, client.SentinelCalls.Count); // at 0 s and after one 1 s poll
        Assert.Equal(TimeSpan.FromSeconds(1), clock.Elapsed(started));
        AssertSecretNotPrinted();
    }

    [Fact]
    public async Task RunAsync_NamedMasterWithEmptyDataThenFailover_WritesReplicaOfNewMaster()
    {
        client.Sentinels = (round, s) => new SentinelAnswer(s, round < 3 ? RedisNode(0) : RedisNode(1), false);
        client.Peers = (round, p) => FakeDiscoveryClient.ReplicasOf(round < 3 ? RedisNode(0) : RedisNode(1))(round, p);
        var env = RedisEnv(0);
        env["MASTER_WAIT_TIMEOUT_MS"] = "10000";

        var code = await Run(env, "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["role=replica master=127.0.1.2:6379 source=sentinels agree=3/3 guard=waited-3.0s"], StdoutLines);
        Assert.Equal(4, client.SentinelCalls.Count);
        var warning = Assert.Single(StderrLines);
        Assert.StartsWith("redis-init: warning: ", warning, StringComparison.Ordinal);
        Assert.EndsWith("replicaof 127.0.1.2 6379\n", File.ReadAllText(RedisConf), StringComparison.Ordinal);
        AssertSecretNotPrinted();
    }

    [Fact]
    public async Task RunAsync_NamedMasterWithData_BecomesMasterAtOnce()
    {
        File.WriteAllBytes(Path.Combine(DataDir, "dump.rdb"), "REDIS0011"u8.ToArray());
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(0));
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(0));

        var code = await Run(RedisEnv(0), "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(["role=master master=127.0.1.1:6379 source=sentinels agree=3/3"], StdoutLines);
        Assert.Single(client.SentinelCalls);
        Assert.DoesNotContain("replicaof", File.ReadAllText(RedisConf), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NamedMasterEmptyAndNoPeerHoldsData_BecomesMasterAtOnce()
    {
        // A fresh cluster whose Sentinels already know pod-0: nothing to lose.
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(0));
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(0), holdData: false);

        var code = await Run(RedisEnv(0), "redis", "--output", RedisConf);

        Assert.Equal(ExitCodes.Ok, code);
        Assert.StartsWith("role=master ", Assert.Single(StdoutLines), StringComparison.Ordinal);
        Assert.Empty(StderrLines);
    }

    // ---- help and version ----

    [Fact]
    public async Task RunAsync_Help_UsageOnStdoutExitZero()
    {
        var code = await Run(RedisEnv(0), "--help");

        Assert.Equal(ExitCodes.Ok, code);
        Assert.StartsWith("usage: redis-init redis", stdout.ToString(), StringComparison.Ordinal);
        Assert.Empty(StderrLines);
    }

    [Fact]
    public async Task RunAsync_Version_OneLineExitZero()
    {
        var code = await Run(RedisEnv(0), "--version");

        Assert.Equal(ExitCodes.Ok, code);
        Assert.Matches("^redis-init [0-9]+\\.[0-9]+\\.[0-9]+", Assert.Single(StdoutLines));
    }

    [Fact]
    public async Task RunAsync_NoArguments_ExitTwoWithUsageHint()
    {
        var code = await Run(RedisEnv(0));

        Assert.Equal(ExitCodes.BadConfiguration, code);
        Assert.StartsWith("redis-init: error: missing mode", Assert.Single(StderrLines), StringComparison.Ordinal);
    }
}

static class PasswordEnv
{
    /// <summary>REDIS_PASSWORD_FILE → a real file in <paramref name="dir"/> holding exactly <paramref name="content"/>.</summary>
    public static void WithPasswordFile(this Dictionary<string, string?> env, string dir, string content)
    {
        var file = Path.Combine(dir, "redis-password");
        File.WriteAllText(file, content);
        env["REDIS_PASSWORD"] = null;
        env["REDIS_PASSWORD_FILE"] = file;
    }
}
