using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Settings;
using RedisSidecars.UnitTests.Core;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

public sealed class SidecarSettingsValidatorTests
{
    static string Single(IReadOnlyList<string> errors, string variable)
    {
        var e = Assert.Single(errors);
        Assert.StartsWith(variable, e);
        Assert.Contains("expected", e);
        return e;
    }

    [Fact]
    public void Validate_NothingSet_Defaults()
    {
        var s = SidecarSettingsBuilder.Valid();

        Assert.Equal("redis-role", s.LabelName);
        Assert.Equal("master", s.MasterLabelValue);
        Assert.Equal("replica", s.ReplicaLabelValue);
        Assert.Equal("redissidecars.io/ready", s.ReadinessConditionType);
        Assert.Equal(9180, s.HttpPort);
        Assert.Equal(TimeSpan.FromMilliseconds(1000), s.ReconcileInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(5000), s.SentinelLossGrace);
        Assert.Equal(TimeSpan.FromMilliseconds(20000), s.HandoverTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(5000), s.MasterLabelWait);
        Assert.Equal(new NodeAddress("127.0.0.1", 6379), s.LocalRedis);
        Assert.Null(s.KubeConfig);
        Assert.Null(s.SentinelService);
        Assert.Equal(9181, s.HandoverPort);
        Assert.Equal(TimeSpan.FromSeconds(30), s.LivenessTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), s.ReplicaNotReadyAfter);
        Assert.True(s.FenceEnabled);
        Assert.Equal(TimeSpan.FromMinutes(10), s.KubeResyncInterval);
    }

    [Fact]
    public void Validate_NewSettingsSet_Taken()
    {
        var s = SidecarSettingsBuilder.Valid(0, o =>
        {
            o.HandoverPort = "9190";
            o.LivenessTimeoutMs = "5000";
            o.ReplicaNotReadyAfterMs = "0";
            o.FenceEnabled = "false";
            o.KubeResyncIntervalMs = "1000";
        });

        Assert.Equal(9190, s.HandoverPort);
        Assert.Equal(TimeSpan.FromSeconds(5), s.LivenessTimeout);
        Assert.Equal(TimeSpan.Zero, s.ReplicaNotReadyAfter);
        Assert.False(s.FenceEnabled);
        Assert.Equal(TimeSpan.FromSeconds(1), s.KubeResyncInterval);
    }

    [Theory]
    [InlineData("9180", null)]
    [InlineData(null, "9181")]
    [InlineData("9300", "9300")]
    public void Validate_HandoverPortEqualsHttpPort_Error(string? handover, string? http)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => { o.HandoverPort = handover; o.HttpPort = http; }), "HANDOVER_PORT");

        Assert.Contains("equals HTTP_PORT (expected a port of its own", e);
    }

    [Theory]
    [InlineData("HTTP_PORT")]
    [InlineData("HANDOVER_PORT")]
    public void Validate_SidecarPortEqualsRedisPort_Error(string variable)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o =>
        {
            if (variable == "HTTP_PORT") o.HttpPort = "6379";
            else o.HandoverPort = "6379";
        }), variable);

        Assert.Equal($"{variable}=6379 equals REDIS_PORT (expected a port the Redis in this pod does not use)", e);
    }

    [Fact]
    public void Validate_LivenessTimeoutBelowTwoReconcileIntervals_Error()
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => { o.ReconcileIntervalMs = "5000"; o.LivenessTimeoutMs = "9999"; }), "LIVENESS_TIMEOUT_MS");

        Assert.Contains("expected at least 10000", e);
    }

    [Fact]
    public void Validate_LivenessTimeoutTwoReconcileIntervals_Valid()
    {
        var s = SidecarSettingsBuilder.Valid(0, o => { o.ReconcileIntervalMs = "5000"; o.LivenessTimeoutMs = "10000"; });

        Assert.Equal(TimeSpan.FromSeconds(10), s.LivenessTimeout);
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("2")]
    public void Validate_FenceEnabledNotABool_Error(string value)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.FenceEnabled = value), "FENCE_ENABLED");

        Assert.Contains("expected true or false", e);
    }

    [Fact]
    public void Validate_SentinelPortWithoutHost_Error()
    {
        Single(SidecarSettingsBuilder.Errors(0, o => o.RedisSentinelPort = "26379"), "REDIS_SENTINEL_PORT is set but REDIS_SENTINEL_HOST is not");
    }

    [Fact]
    public void Validate_AllSet_Taken()
    {
        var s = SidecarSettingsBuilder.Valid(0, o =>
        {
            o.MasterPodLabelName = "redissidecars.io/role";
            o.MasterPodLabelValue = "primary";
            o.ReplicaPodLabelValue = "secondary";
            o.ReadinessConditionType = "example.com/redis-ready";
            o.HttpPort = "9999";
            o.ReconcileIntervalMs = "250";
            o.SentinelLossGraceMs = "8000";
            o.HandoverTimeoutMs = "30000";
            o.MasterLabelWaitMs = "0";
            o.LocalRedis = "localhost:6380";
        });

        Assert.Equal("redissidecars.io/role", s.LabelName);
        Assert.Equal("primary", s.MasterLabelValue);
        Assert.Equal("secondary", s.ReplicaLabelValue);
        Assert.Equal("example.com/redis-ready", s.ReadinessConditionType);
        Assert.Equal(9999, s.HttpPort);
        Assert.Equal(TimeSpan.FromMilliseconds(250), s.ReconcileInterval);
        Assert.Equal(TimeSpan.FromSeconds(8), s.SentinelLossGrace);
        Assert.Equal(TimeSpan.FromSeconds(30), s.HandoverTimeout);
        Assert.Equal(TimeSpan.Zero, s.MasterLabelWait);
        Assert.Equal(new NodeAddress("localhost", 6380), s.LocalRedis);
    }

    [Fact]
    public void Validate_LocalRedisUnset_FollowsRedisPort()
    {
        var s = SidecarSettingsBuilder.Valid(0, raw: r =>
        {
            r.RedisPort = "7000";
            r.RedisNodes = "127.0.1.1:7000,127.0.1.2:7000,127.0.1.3:7000";
        });

        Assert.Equal(new NodeAddress("127.0.0.1", 7000), s.LocalRedis);
    }

    [Fact]
    public void Validate_ReplicaLabelValueEmpty_NullRemovesTheLabel()
    {
        var s = SidecarSettingsBuilder.Valid(0, o => o.ReplicaPodLabelValue = "");

        Assert.Null(s.ReplicaLabelValue);
    }

    [Fact]
    public void Validate_ReplicaLabelValueBlank_ErrorNotARemoval()
    {
        // Only exactly "" removes the label; whitespace is a mistake, not a request.
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.ReplicaPodLabelValue = "  "), "REPLICA_POD_LABEL_VALUE");

        Assert.Equal("REPLICA_POD_LABEL_VALUE is set but blank (expected empty to remove the label, or 1-63 characters of A-Z a-z 0-9 . _ -)", e);
    }

    [Theory]
    [InlineData("bad key!")]
    [InlineData("-redis-role")]
    [InlineData("a/b/c")]
    [InlineData("Example.COM/role")]   // the prefix is a DNS subdomain: lower case
    [InlineData("/role")]
    public void Validate_InvalidLabelKey_ErrorNamesVariable(string key)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.MasterPodLabelName = key), "MASTER_POD_LABEL_NAME");

        Assert.Contains(key, e);
        Assert.Contains("label key", e);
    }

    [Fact]
    public void Validate_LabelKeyNameOf64Characters_Error()
    {
        Single(SidecarSettingsBuilder.Errors(0, o => o.MasterPodLabelName = new string('a', 64)), "MASTER_POD_LABEL_NAME");
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("-master")]
    [InlineData("master-")]
    [InlineData("ma/ster")]
    public void Validate_InvalidMasterLabelValue_ErrorNamesVariable(string value)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.MasterPodLabelValue = value), "MASTER_POD_LABEL_VALUE");

        Assert.Contains("1-63 characters", e);
    }

    [Fact]
    public void Validate_MasterLabelValueOf64Characters_Error()
    {
        Single(SidecarSettingsBuilder.Errors(0, o => o.MasterPodLabelValue = new string('m', 64)), "MASTER_POD_LABEL_VALUE");
    }

    [Fact]
    public void Validate_InvalidReplicaLabelValue_ErrorSaysEmptyRemovesTheLabel()
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.ReplicaPodLabelValue = "re plica"), "REPLICA_POD_LABEL_VALUE");

        Assert.Contains("empty to remove the label", e);
    }

    [Theory]
    [InlineData("bad type")]
    [InlineData("Upper.Example/ready")]
    [InlineData("x/")]
    public void Validate_InvalidConditionType_ErrorNamesVariable(string type)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.ReadinessConditionType = type), "READINESS_CONDITION_TYPE");

        Assert.Contains("qualified name", e);
    }

    [Fact]
    public void Validate_ReplicaValueEqualsMasterValue_Error()
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => { o.MasterPodLabelValue = "leader"; o.ReplicaPodLabelValue = "leader"; }),
            "REPLICA_POD_LABEL_VALUE");

        Assert.Contains("MASTER_POD_LABEL_VALUE", e);
        Assert.Contains("'leader'", e);
    }

    [Fact]
    public void Validate_MasterValueEqualsDefaultReplicaValue_Error()
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.MasterPodLabelValue = "replica"), "REPLICA_POD_LABEL_VALUE");

        Assert.Contains("MASTER_POD_LABEL_VALUE", e);
    }

    [Fact]
    public void Validate_KubeconfigMissing_Error()
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.KubeConfig = "/nowhere/kubeconfig"), "KUBECONFIG");

        Assert.Equal("KUBECONFIG='/nowhere/kubeconfig' does not exist, and neither does its directory '/nowhere' (expected a readable kubeconfig file; leave KUBECONFIG unset in a cluster)", e);
    }

    [Fact]
    public void Validate_KubeconfigPresent_Taken()
    {
        var files = new FakeSettingsFiles().With("/etc/kube/config", "apiVersion: v1");

        var s = SidecarSettingsBuilder.Valid(0, o => o.KubeConfig = " /etc/kube/config ", files: files);

        Assert.Equal("/etc/kube/config", s.KubeConfig);
    }

    [Theory]
    [InlineData("127.0.0.1:notaport")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("bad host!:6379")]
    [InlineData("[::1")]
    public void Validate_LocalRedisMalformed_ErrorNamesVariable(string local)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.LocalRedis = local), "LOCAL_REDIS");

        Assert.Contains("host:port", e);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("1.2.3")]
    [InlineData("0.0.0.0 ")]
    public void Validate_HttpHostNotAnIp_ErrorNamesVariable(string host)
    {
        var e = Single(SidecarSettingsBuilder.Errors(0, o => o.HttpHost = host + "x"), "HTTP_HOST");

        Assert.Contains("expected", e);
    }

    [Theory]
    [InlineData(null, "0.0.0.0")]
    [InlineData("127.0.1.2", "127.0.1.2")]
    [InlineData("::", "::")]
    public void Validate_HttpHost_DefaultAllAddressesOrGiven(string? host, string expected)
    {
        var (settings, errors) = SidecarSettingsBuilder.Validate(0, o => o.HttpHost = host);

        Assert.Empty(errors);
        Assert.Equal(System.Net.IPAddress.Parse(expected), settings!.HttpHost);
    }

    [Theory]
    [InlineData("HTTP_PORT", "0")]
    [InlineData("HTTP_PORT", "65536")]
    [InlineData("RECONCILE_INTERVAL_MS", "99")]
    [InlineData("SENTINEL_LOSS_GRACE_MS", "abc")]
    [InlineData("HANDOVER_TIMEOUT_MS", "999")]
    [InlineData("MASTER_LABEL_WAIT_MS", "-1")]
    [InlineData("HANDOVER_PORT", "0")]
    [InlineData("HANDOVER_PORT", "65536")]
    [InlineData("LIVENESS_TIMEOUT_MS", "999")]
    [InlineData("REPLICA_NOT_READY_AFTER_MS", "600001")]
    [InlineData("REPLICA_NOT_READY_AFTER_MS", "-1")]
    [InlineData("KUBE_RESYNC_INTERVAL_MS", "999")]
    public void Validate_NumberOutOfRange_ErrorNamesVariableAndRange(string variable, string value)
    {
        var (_, errors) = SidecarSettingsBuilder.Validate(0, o =>
        {
            switch (variable)
            {
                case "HTTP_PORT": o.HttpPort = value; break;
                case "RECONCILE_INTERVAL_MS": o.ReconcileIntervalMs = value; break;
                case "SENTINEL_LOSS_GRACE_MS": o.SentinelLossGraceMs = value; break;
                case "HANDOVER_TIMEOUT_MS": o.HandoverTimeoutMs = value; break;
                case "MASTER_LABEL_WAIT_MS": o.MasterLabelWaitMs = value; break;
                case "HANDOVER_PORT": o.HandoverPort = value; break;
                case "LIVENESS_TIMEOUT_MS": o.LivenessTimeoutMs = value; break;
                case "REPLICA_NOT_READY_AFTER_MS": o.ReplicaNotReadyAfterMs = value; break;
                case "KUBE_RESYNC_INTERVAL_MS": o.KubeResyncIntervalMs = value; break;
            }
        });

        var e = Single(errors, variable);
        Assert.Contains($"'{value}'", e);
        Assert.Contains("whole number from", e);
    }

    [Fact]
    public void Validate_SeveralBadValues_AllReported()
    {
        var errors = SidecarSettingsBuilder.Errors(0, o =>
        {
            o.LocalRedis = "x:y";
            o.MasterPodLabelName = "bad key";
            o.HttpPort = "0";
            o.KubeConfig = "/missing";
        });

        Assert.Equal(4, errors.Count);
    }

    [Fact]
    public void Validate_CommonSettingsInvalid_ErrorsIncluded()
    {
        var errors = SidecarSettingsBuilder.Errors(0, o => o.HttpPort = "0", r => r.RedisPort = "nope");

        Assert.Contains(errors, e => e.StartsWith("REDIS_PORT", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("HTTP_PORT", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SentinelHostAndPort_Parsed()
    {
        var s = SidecarSettingsBuilder.Valid(0, o => { o.RedisSentinelHost = "redis-sentinel.default.svc"; o.RedisSentinelPort = "26380"; });

        Assert.Equal(new NodeAddress("redis-sentinel.default.svc", 26380), s.SentinelService);
    }

    [Fact]
    public void Validate_SentinelHostWithoutPort_SentinelPortDefault()
    {
        var s = SidecarSettingsBuilder.Valid(0, o => o.RedisSentinelHost = "redis-sentinel", raw: r => r.SentinelPort = "26390");

        Assert.Equal(new NodeAddress("redis-sentinel", 26390), s.SentinelService);
    }

    [Fact]
    public void Validate_SentinelHostWithPortInside_PortFromHost()
    {
        var s = SidecarSettingsBuilder.Valid(0, o => o.RedisSentinelHost = "redis-sentinel:26400");

        Assert.Equal(new NodeAddress("redis-sentinel", 26400), s.SentinelService);
    }

    [Fact]
    public void Validate_SentinelPortInvalid_ErrorNamesVariable()
    {
        Single(SidecarSettingsBuilder.Errors(0, o => { o.RedisSentinelHost = "redis-sentinel"; o.RedisSentinelPort = "0"; }), "REDIS_SENTINEL_PORT");
    }

    [Fact]
    public void Validate_SentinelHostInvalid_ErrorNamesVariable()
    {
        Single(SidecarSettingsBuilder.Errors(0, o => o.RedisSentinelHost = "bad host!"), "REDIS_SENTINEL_HOST");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void PodNames_FromPodNameAndRedisNodes_AllOrdinals(int ordinal)
    {
        var s = SidecarSettingsBuilder.Valid(ordinal);

        Assert.Equal(["redis-0", "redis-1", "redis-2"], s.PodNames);
    }

    [Fact]
    public void PodNames_StatefulSetNameWithDashesAndFiveNodes_AllOrdinals()
    {
        var raw = SettingsBuilder.Raw("my-redis-db-1", r =>
        {
            r.RedisNodes = "127.0.1.1:6379,127.0.1.2:6379,127.0.1.3:6379,127.0.1.4:6379,127.0.1.5:6379";
            r.AnnounceHost = "127.0.1.2";
        });
        var (s, errors) = SidecarSettingsValidator.Validate(raw, new SidecarRawOptions(), NodeMode.Redis, new FakeSettingsFiles());

        Assert.True(s is not null, SettingsValidator.OneLine(errors));
        Assert.Equal(["my-redis-db-0", "my-redis-db-1", "my-redis-db-2", "my-redis-db-3", "my-redis-db-4"], s.PodNames);
    }
}
