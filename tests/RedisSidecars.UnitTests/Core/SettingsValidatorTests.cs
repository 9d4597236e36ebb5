using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Settings;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class SettingsValidatorTests
{
    /// <summary>Every secret in these tests contains this marker; no error may contain it.</summary>
    const string Marker = "S3cret";
    const string SentinelSecret = "sentinel-" + Marker;

    sealed record BadCase(Action<RawOptions> Tweak, string Variable, string Expectation, int Errors = 1,
        NodeMode Mode = NodeMode.Redis, FakeSettingsFiles? Files = null, string? Pod = null);

    static readonly Dictionary<string, BadCase> BadCases = new()
    {
        ["pod-name-missing"] = new(r => r.PodName = null, "POD_NAME", "expected <statefulset>-<ordinal>"),
        ["pod-name-blank"] = new(r => r.PodName = "  ", "POD_NAME", "expected <statefulset>-<ordinal>"),
        ["pod-name-upper-case"] = new(r => r.PodName = "Redis-0", "POD_NAME='Redis-0'", "expected <statefulset>-<ordinal> in lower case"),
        ["pod-name-no-ordinal"] = new(r => r.PodName = "redis", "POD_NAME='redis'", "expected <statefulset>-<ordinal>"),
        ["pod-name-letter-ordinal"] = new(r => r.PodName = "redis-x", "POD_NAME='redis-x'", "expected <statefulset>-<ordinal>"),
        ["pod-name-sentinel-missing"] = new(r => r.PodName = null, "POD_NAME", "expected <statefulset>-<ordinal>", Mode: NodeMode.Sentinel),
        ["ordinal-outside-redis-nodes"] = new(r => r.PodName = "redis-3", "REDIS_NODES", "expected ordinal 0-2"),
        ["ordinal-outside-sentinel-nodes"] = new(r => r.PodName = "sentinel-7", "SENTINEL_NODES", "expected ordinal 0-2", Mode: NodeMode.Sentinel),
        ["redis-nodes-port-not-number"] = new(r => r.RedisNodes = "a:b", "REDIS_NODES='a:b'", "expected host:port"),
        ["redis-nodes-port-too-big"] = new(r => r.RedisNodes = "host:99999", "REDIS_NODES='host:99999'", "expected host:port"),
        ["redis-nodes-only-comma"] = new(r => r.RedisNodes = ",", "REDIS_NODES", "expected host:port"),
        ["redis-nodes-stray-comma"] = new(r => r.RedisNodes = "127.0.1.1:6379,,127.0.1.2:6379", "REDIS_NODES", "expected host:port"),
        ["redis-nodes-duplicate"] = new(r => r.RedisNodes = "127.0.1.1:6379,127.0.1.2:6379,127.0.1.1:6379", "REDIS_NODES", "listed twice"),
        ["redis-nodes-unbracketed-ipv6"] = new(r => r.RedisNodes = "::1:6379", "REDIS_NODES='::1:6379'", "[addr]:port"),
        ["redis-nodes-bad-host"] = new(r => r.RedisNodes = "bad host:6379", "REDIS_NODES", "expected host:port"),
        ["sentinel-nodes-port-not-number"] = new(r => r.SentinelNodes = "a:b", "SENTINEL_NODES='a:b'", "expected host:port"),
        ["sentinel-nodes-port-too-big"] = new(r => r.SentinelNodes = "host:99999", "SENTINEL_NODES='host:99999'", "expected host:port"),
        ["sentinel-nodes-only-comma"] = new(r => r.SentinelNodes = ",", "SENTINEL_NODES", "expected host:port"),
        ["sentinel-nodes-duplicate"] = new(r => r.SentinelNodes = "s:26379,S:26379", "SENTINEL_NODES", "listed twice"),
        ["sentinel-nodes-unbracketed-ipv6"] = new(r => r.SentinelNodes = "::1:26379", "SENTINEL_NODES", "[addr]:port"),
        ["redis-port-zero"] = new(r => r.RedisPort = "0", "REDIS_PORT='0'", "expected a whole number from 1 to 65535"),
        ["redis-port-too-big"] = new(r => r.RedisPort = "65536", "REDIS_PORT='65536'", "expected a whole number from 1 to 65535"),
        ["redis-port-text"] = new(r => r.RedisPort = "six", "REDIS_PORT='six'", "expected a whole number"),
        ["sentinel-port-negative"] = new(r => r.SentinelPort = "-1", "SENTINEL_PORT='-1'", "expected a whole number from 1 to 65535"),
        ["master-set-name-space"] = new(r => r.MasterSetName = "my master", "MASTER_SET_NAME='my master'", "expected 1-64 characters"),
        ["master-set-name-newline"] = new(r => r.MasterSetName = "my\nmaster", "MASTER_SET_NAME='my?master'", "expected 1-64 characters"),
        ["quorum-above-sentinel-count"] = new(r => r.SentinelQuorum = "4", "SENTINEL_QUORUM='4'", "from 1 to 3"),
        ["quorum-zero"] = new(r => r.SentinelQuorum = "0", "SENTINEL_QUORUM='0'", "from 1 to 3"),
        ["password-file-missing"] = new(r => r.RedisPasswordFile = "/secrets/missing", "REDIS_PASSWORD_FILE='/secrets/missing' does not exist",
            "expected the path of a file holding the password", Files: new FakeSettingsFiles().WithDirectory("/secrets")),
        ["sentinel-password-file-missing"] = new(r => { r.SentinelPassword = null; r.SentinelPasswordFile = "/secrets/none"; },
            "SENTINEL_PASSWORD_FILE='/secrets/none' does not exist, and neither does its directory '/secrets'", "expected the path of a file"),
        ["password-env-newline"] = new(r => r.RedisPassword = Marker + "\nline2", "REDIS_PASSWORD", "expected a single line"),
        ["password-env-trailing-newline"] = new(r => r.RedisPassword = Marker + "\n", "REDIS_PASSWORD", "expected a single line"),
        ["password-env-carriage-return"] = new(r => r.RedisPassword = Marker + "\rx", "REDIS_PASSWORD", "expected a single line"),
        ["password-env-nul"] = new(r => r.RedisPassword = Marker + "\0x", "REDIS_PASSWORD", "expected a password without NUL bytes"),
        ["sentinel-password-env-newline"] = new(r => r.SentinelPassword = Marker + "\nx", "SENTINEL_PASSWORD", "expected a single line"),
        ["password-file-inner-newline"] = new(r => r.RedisPasswordFile = "/s/pw",
            "REDIS_PASSWORD_FILE", "expected a single line", Files: new FakeSettingsFiles().With("/s/pw", Marker + "\nsecond\n")),
        ["password-file-two-trailing-newlines"] = new(r => r.RedisPasswordFile = "/s/pw",
            "REDIS_PASSWORD_FILE", "expected a single line", Files: new FakeSettingsFiles().With("/s/pw", Marker + "\n\n")),
        ["password-file-nul"] = new(r => r.RedisPasswordFile = "/s/pw",
            "REDIS_PASSWORD_FILE", "without NUL bytes", Files: new FakeSettingsFiles().With("/s/pw", Marker + "\0\n")),
        ["password-and-file"] = new(r => { r.RedisPassword = Marker; r.RedisPasswordFile = "/s/pw"; },
            "REDIS_PASSWORD and REDIS_PASSWORD_FILE", "expected only one", Files: new FakeSettingsFiles().With("/s/pw", Marker)),
        ["sentinel-password-and-file"] = new(r => r.SentinelPasswordFile = "/s/spw",
            "SENTINEL_PASSWORD and SENTINEL_PASSWORD_FILE", "expected only one", Files: new FakeSettingsFiles().With("/s/spw", Marker)),
        ["sentinel-mode-redis-password-space"] = new(r => r.RedisPassword = Marker + " x", "REDIS_PASSWORD contains a space",
            "expected a password without spaces", Mode: NodeMode.Sentinel),
        ["sentinel-mode-sentinel-password-quote"] = new(r => r.SentinelPassword = Marker + "\"x", "SENTINEL_PASSWORD contains a space",
            "expected a password without spaces", Mode: NodeMode.Sentinel),
        ["username-without-password"] = new(r => r.RedisUsername = "app", "REDIS_USERNAME", "REDIS_PASSWORD / REDIS_PASSWORD_FILE is not"),
        ["username-invalid"] = new(r => { r.RedisUsername = "a pp"; r.RedisPassword = Marker; }, "REDIS_USERNAME='a pp'", "expected 1-128 characters"),
        ["tls-without-files"] = new(r => r.TlsEnabled = "true", "TLS_CA_FILE", "expected the path of a readable PEM file", Errors: 3),
        ["tls-file-absent"] = new(r => { r.TlsEnabled = "yes"; r.TlsCaFile = "/tls/ca.crt"; r.TlsCertFile = "/tls/tls.crt"; r.TlsKeyFile = "/tls/nope.key"; },
            "TLS_KEY_FILE='/tls/nope.key' does not exist", "expected the path of a readable PEM file",
            Files: new FakeSettingsFiles().With("/tls/ca.crt", "").With("/tls/tls.crt", "")),
        ["tls-maybe"] = new(r => r.TlsEnabled = "maybe", "TLS_ENABLED='maybe'", "expected true or false"),
        ["data-dir-relative"] = new(r => r.DataDir = "data", "DATA_DIR='data'", "absolute path"),
        ["master-wait-too-short"] = new(r => r.MasterWaitTimeoutMs = "999", "MASTER_WAIT_TIMEOUT_MS='999'", "from 1000 to"),
        ["namespace-invalid"] = new(r => r.PodNamespace = "Prod_NS", "POD_NAMESPACE='Prod_NS'", "expected a DNS label"),
        ["pod-ip-not-ip"] = new(r => r.PodIp = "pod.example", "POD_IP='pod.example'", "expected an IP address"),
        ["announce-host-invalid"] = new(r => r.AnnounceHost = "bad host", "ANNOUNCE_HOST='bad host'", "expected a host name or IP address"),
        ["min-replicas-text"] = new(r => r.MinReplicasToWrite = "one", "MIN_REPLICAS_TO_WRITE='one'", "expected a whole number"),
    };

    public static TheoryData<string> BadCaseNames => new(BadCases.Keys);

    [Theory]
    [MemberData(nameof(BadCaseNames))]
    public void Validate_BadInput_ErrorNamesVariableAndExpectationButNoSecret(string name)
    {
        var c = BadCases[name];
        var pod = c.Pod ?? (c.Mode == NodeMode.Sentinel ? "sentinel-0" : "redis-0");
        var raw = SettingsBuilder.Raw(pod, r => { r.SentinelPassword = SentinelSecret; c.Tweak(r); });

        var errors = SettingsBuilder.Errors(raw, c.Mode, c.Files);

        Assert.Equal(c.Errors, errors.Count);
        var error = Assert.Single(errors, e => e.Contains(c.Variable, StringComparison.Ordinal));
        Assert.Contains(c.Expectation, error, StringComparison.Ordinal);
        Assert.All(errors, e =>
        {
            Assert.DoesNotContain(Marker, e, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e);
            Assert.DoesNotContain('\r', e);
            Assert.DoesNotContain('\0', e);
        });
    }

    [Fact]
    public void Validate_TlsWithoutFiles_EachFileNamed()
    {
        var errors = SettingsBuilder.Errors(SettingsBuilder.Raw("redis-0", r => r.TlsEnabled = "true"), NodeMode.Redis);

        Assert.Contains(errors, e => e.StartsWith("TLS_CA_FILE is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TLS_CERT_FILE is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("TLS_KEY_FILE is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SeveralBadInputs_AllCollected()
    {
        var raw = new RawOptions
        {
            PodName = "Redis-0",
            RedisNodes = "a:b",
            SentinelNodes = "::1:26379",
            RedisPort = "0",
            MasterSetName = "my master",
            RedisPassword = Marker + "\n",
            RedisUsername = "a pp",
            TlsEnabled = "maybe",
        };

        var errors = SettingsBuilder.Errors(raw, NodeMode.Redis);

        foreach (var variable in new[] { "POD_NAME", "REDIS_NODES", "SENTINEL_NODES", "REDIS_PORT", "MASTER_SET_NAME", "REDIS_PASSWORD contains", "REDIS_USERNAME", "TLS_ENABLED" })
            Assert.Contains(errors, e => e.Contains(variable, StringComparison.Ordinal));
        Assert.Equal(8, errors.Count);
        Assert.DoesNotContain(Marker, SettingsValidator.OneLine(errors), StringComparison.Ordinal);
    }

    // ---- secrets that are fine ----

    [Theory]
    [InlineData(Marker + "\n")]
    [InlineData(Marker + "\r\n")]
    [InlineData(Marker)]
    public void Validate_PasswordFileWithOneTrailingLineBreak_StrippedAndAccepted(string content)
    {
        var files = new FakeSettingsFiles().With("/secrets/redis-password", content).With("/secrets/sentinel-password", content);
        var raw = SettingsBuilder.Raw("redis-0", r => { r.RedisPasswordFile = "/secrets/redis-password"; r.SentinelPasswordFile = "/secrets/sentinel-password"; });

        var s = SettingsBuilder.Valid(raw, NodeMode.Redis, files);

        Assert.Equal(Marker, s.RedisPassword?.Reveal());
        Assert.Equal(Marker, s.SentinelPassword?.Reveal());
    }

    [Fact]
    public void Validate_PasswordWithSpacesAndQuotes_KeptExactly()
    {
        const string pw = "  p@ss \"w\" 'o' \\ $r#d  ";
        var s = SettingsBuilder.Redis(0, r => r.RedisPassword = pw);

        Assert.Equal(pw, s.RedisPassword?.Reveal());
    }

    [Fact]
    public void SecretToString_Always_Stars()
    {
        var secret = new Secret(Marker);

        Assert.Equal("***", secret.ToString());
        Assert.Equal("pw=***", $"pw={secret}");
        Assert.Equal(Marker, secret.Reveal());
    }

    [Fact]
    public void SettingsToString_WithSecrets_SecretsHidden()
    {
        var s = SettingsBuilder.Redis(0, r => { r.RedisPassword = Marker + "r"; r.SentinelPassword = Marker + "s"; });

        Assert.DoesNotContain(Marker, s.ToString(), StringComparison.Ordinal);
    }

    // ---- derivation ----

    [Fact]
    public void Validate_RedisModeDefaults_NodeListsDerivedFromPodName()
    {
        var s = SettingsBuilder.Valid(new RawOptions { PodName = "redis-1" }, NodeMode.Redis);

        Assert.Equal(
            ["redis-0.redis-headless.default.svc.cluster.local:6379", "redis-1.redis-headless.default.svc.cluster.local:6379", "redis-2.redis-headless.default.svc.cluster.local:6379"],
            s.RedisNodes.Select(n => n.ToString()));
        Assert.Equal(
            ["sentinel-0.sentinel-headless.default.svc.cluster.local:26379", "sentinel-1.sentinel-headless.default.svc.cluster.local:26379", "sentinel-2.sentinel-headless.default.svc.cluster.local:26379"],
            s.SentinelNodes.Select(n => n.ToString()));
        Assert.Equal("redis-1.redis-headless.default.svc.cluster.local:6379", s.Self?.ToString());
        Assert.Equal(1, s.Ordinal);
        Assert.True(s.IsMe(s.RedisNodes[1]));
        Assert.False(s.IsMe(s.RedisNodes[0]));
        Assert.Equal(2, s.SentinelQuorum);
        Assert.Equal("mymaster", s.MasterSetName);
        Assert.Equal("/data", s.DataDir);
        Assert.Null(s.Tls);
        Assert.Null(s.RedisPassword);
    }

    [Fact]
    public void Validate_NamespaceDomainAndReplicas_UsedInDerivedNames()
    {
        var raw = new RawOptions { PodName = "cache-4", PodNamespace = "prod", ClusterDomain = "k8s.example", RedisReplicas = "5", SentinelReplicas = "5" };

        var s = SettingsBuilder.Valid(raw, NodeMode.Redis);

        Assert.Equal(5, s.RedisNodes.Count);
        Assert.Equal("cache-4.cache-headless.prod.svc.k8s.example:6379", s.RedisNodes[4].ToString());
        Assert.Equal("sentinel-4.sentinel-headless.prod.svc.k8s.example:26379", s.SentinelNodes[4].ToString());
        Assert.Equal(s.RedisNodes[4], s.Self);
        Assert.Equal(3, s.SentinelQuorum);
    }

    [Fact]
    public void Validate_SentinelModeDefaults_AnnouncesOwnSentinelName()
    {
        var s = SettingsBuilder.Valid(new RawOptions { PodName = "sentinel-2" }, NodeMode.Sentinel);

        Assert.Equal("sentinel-2.sentinel-headless.default.svc.cluster.local:26379", s.Self?.ToString());
        Assert.Equal("redis-0.redis-headless.default.svc.cluster.local:6379", s.RedisNodes[0].ToString());
        Assert.True(s.IsMe(s.SentinelNodes[2]));
        Assert.Equal(s.SentinelNodes[2], s.OwnListedNode);
    }

    [Fact]
    public void Validate_SentinelModeRedisStatefulSetOverride_RedisNodesFollowIt()
    {
        var s = SettingsBuilder.Valid(new RawOptions { PodName = "sentinel-0", RedisStatefulSet = "cache" }, NodeMode.Sentinel);

        Assert.Equal("cache-0.cache-headless.default.svc.cluster.local:6379", s.RedisNodes[0].ToString());
        Assert.Equal("sentinel-0.sentinel-headless.default.svc.cluster.local:26379", s.SentinelNodes[0].ToString());
    }

    [Fact]
    public void Validate_AnnounceHostGiven_SelfUsesItWithModePort()
    {
        var s = SettingsBuilder.Valid(new RawOptions { PodName = "sentinel-0", AnnounceHost = "10.9.8.7", SentinelPort = "26380" }, NodeMode.Sentinel);

        Assert.Equal(new NodeAddress("10.9.8.7", 26380), s.Self);
    }

    [Fact]
    public void Validate_PodIp_AliasMakesIsMeTrueForThisModesPortOnly()
    {
        var s = SettingsBuilder.Valid(new RawOptions { PodName = "redis-2", PodIp = "10.1.2.3" }, NodeMode.Redis);

        Assert.True(s.IsMe(new NodeAddress("10.1.2.3", 6379)));
        Assert.False(s.IsMe(new NodeAddress("10.1.2.3", 26379)));
        Assert.False(s.IsMe(new NodeAddress("10.1.2.4", 6379)));
    }

    [Fact]
    public void Validate_ExplicitLists_OverrideDerivedOnes()
    {
        var s = SettingsBuilder.Redis(2);

        Assert.Equal([RedisNode(0), RedisNode(1), RedisNode(2)], s.RedisNodes);
        Assert.Equal([SentinelNode(0), SentinelNode(1), SentinelNode(2)], s.SentinelNodes);
        Assert.True(s.IsMe(RedisNode(2)));
        Assert.Equal(2, s.SentinelMajority);
    }

    [Fact]
    public void Validate_VerifyModeWithoutPodName_Valid()
    {
        var s = SettingsBuilder.Valid(new RawOptions { SentinelNodes = Topology.SentinelList }, NodeMode.Verify);

        Assert.Null(s.Self);
        Assert.Null(s.PodName);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("1", true)]
    [InlineData("off", false)]
    [InlineData("no", false)]
    public void Validate_TlsEnabledSpellings_Accepted(string? value, bool on)
    {
        var files = new FakeSettingsFiles().With("/tls/ca.crt", "").With("/tls/tls.crt", "").With("/tls/tls.key", "");
        var raw = SettingsBuilder.Raw("redis-0", r => { r.TlsEnabled = value; r.TlsCaFile = "/tls/ca.crt"; r.TlsCertFile = "/tls/tls.crt"; r.TlsKeyFile = "/tls/tls.key"; });

        var s = SettingsBuilder.Valid(raw, NodeMode.Redis, files);

        Assert.Equal(on, s.Tls is not null);
    }
}
