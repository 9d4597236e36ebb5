using System.Reflection;
using Microsoft.Extensions.Configuration;
using RedisSidecars.Core.Settings;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

/// <summary>
/// "Set" versus "unset", for every setting of both programs: a variable that is set but empty or blank, or that holds a
/// Kubernetes service-link value, is an error naming it, never a silent default; and a secret asked for but empty is an
/// error, never a configuration without authentication.
/// </summary>
public sealed class SettingPresenceTests
{
    const string Marker = "S3cret";

    /// <summary>Every [ConfigurationKeyName] of RawOptions and SidecarRawOptions: the contract with the manifests.</summary>
    static readonly IReadOnlyList<(string Name, PropertyInfo Property)> AllSettings =
        typeof(RawOptions).GetProperties().Concat(typeof(SidecarRawOptions).GetProperties())
            .Select(p => (p.GetCustomAttribute<ConfigurationKeyNameAttribute>()!.Name, p))
            .ToArray();

    /// <summary>Opaque values: any byte sequence is a valid password, so no value is "recognised" in them.</summary>
    static readonly HashSet<string> Secrets = ["REDIS_PASSWORD", "SENTINEL_PASSWORD"];

    public static TheoryData<string> SettingNames => new(AllSettings.Select(s => s.Name));

    /// <summary>Validates a Redis pod's settings (loopback lists, see <see cref="SettingsBuilder.Raw"/>) with one variable set to <paramref name="value"/>.</summary>
    static (SidecarSettings? Settings, IReadOnlyList<string> Errors) WithOne(string name, string value, NodeMode mode = NodeMode.Redis)
    {
        var raw = SettingsBuilder.Raw(mode == NodeMode.Sentinel ? "sentinel-0" : "redis-0");
        var side = new SidecarRawOptions();
        var (_, property) = AllSettings.Single(s => s.Name == name);
        property.SetValue(property.DeclaringType == typeof(RawOptions) ? raw : side, value);
        return SidecarSettingsValidator.Validate(raw, side, mode, new FakeSettingsFiles());
    }

    // ---- the fact this builds on ----

    [Fact]
    public void Configuration_VariableSetToEmptyVersusUnset_BindsAsEmptyStringVersusNull()
    {
        // The real environment provider and the binding source generator (SettingsLoader.BindRaw, in the AOT-compiled
        // library): a unique prefix so no other test sees these variables.
        var prefix = $"REDISSIDECARS_PROBE_{Guid.NewGuid():N}_";
        Environment.SetEnvironmentVariable(prefix + "REDIS_PASSWORD_FILE", "");
        Environment.SetEnvironmentVariable(prefix + "HANDOVER_PORT", "");
        Environment.SetEnvironmentVariable(prefix + "REDIS_PORT", "6390");
        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build();

            var raw = SettingsLoader.BindRaw(configuration);
            var side = SettingsLoader.BindSidecar(configuration);

            Assert.Equal("", raw.RedisPasswordFile);
            Assert.Equal("", side.HandoverPort);
            Assert.Equal("6390", raw.RedisPort);
            Assert.Null(raw.SentinelPasswordFile);
            Assert.Null(side.HttpPort);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "REDIS_PASSWORD_FILE", null);
            Environment.SetEnvironmentVariable(prefix + "HANDOVER_PORT", null);
            Environment.SetEnvironmentVariable(prefix + "REDIS_PORT", null);
        }
    }

    [Fact]
    public void Configuration_EmptyFromArgumentsAndJson_EmptyStringAndJsonNullIsUnset()
    {
        var json = Path.Combine(Directory.CreateTempSubdirectory("settings-json-").FullName, "settings.json");
        File.WriteAllText(json, """{ "DATA_DIR": "", "REDIS_PORT": null, "REDIS_REPLICAS": 5 }""");
        try
        {
            var configuration = SettingsLoader.TryBuild(["--MASTER_SET_NAME="], json, new Dictionary<string, string?>(), out var error);

            Assert.Null(error);
            var raw = SettingsLoader.BindRaw(configuration!);
            Assert.Equal("", raw.MasterSetName);
            Assert.Equal("", raw.DataDir);
            Assert.Null(raw.RedisPort);
            Assert.Equal("5", raw.RedisReplicas);
        }
        finally { Directory.Delete(Path.GetDirectoryName(json)!, recursive: true); }
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void TryBuild_ConfigPathEmpty_ErrorNamingConfig(string path)
    {
        Assert.Null(SettingsLoader.TryBuild([], path, new Dictionary<string, string?>(), out var error));
        Assert.StartsWith("--config needs a path (expected a readable JSON object of settings", error, StringComparison.Ordinal);
    }

    // ---- every setting ----

    public static TheoryData<string, string> EmptyAndBlankValues()
    {
        var data = new TheoryData<string, string>();
        foreach (var (name, _) in AllSettings)
        {
            data.Add(name, "");
            data.Add(name, " \t ");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EmptyAndBlankValues))]
    public void Validate_AnySettingSetToEmptyOrBlank_OneErrorNamingIt(string name, string value)
    {
        var (settings, errors) = WithOne(name, value);

        if (name == "REPLICA_POD_LABEL_VALUE" && value == "")
        {
            // The one documented exception: exactly empty removes the label from replicas.
            Assert.Empty(errors);
            Assert.Null(settings!.ReplicaLabelValue);
            return;
        }
        Assert.Null(settings);
        var error = Assert.Single(errors);
        Assert.StartsWith($"{name} is set but {(value == "" ? "empty" : "blank")} (expected ", error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(SettingNames))]
    public void Validate_AnySettingHoldingAServiceLinkValue_OneErrorSayingSoAndHowToTurnThemOff(string name)
    {
        if (Secrets.Contains(name)) return; // opaque: see the next test
        const string value = "tcp://10.96.136.25:26379";

        foreach (var mode in new[] { NodeMode.Redis, NodeMode.Sentinel, NodeMode.Verify })
        {
            var (settings, errors) = WithOne(name, value, mode);

            Assert.Null(settings);
            var error = Assert.Single(errors);
            Assert.StartsWith($"{name}='{value}' is a Kubernetes service-link ", error, StringComparison.Ordinal);
            Assert.Contains("enableServiceLinks: false", error, StringComparison.Ordinal);
            if (name.EndsWith("_PORT", StringComparison.Ordinal))
                Assert.Contains($"for the Service named '{name[..^5].ToLowerInvariant().Replace('_', '-')}'", error, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("REDIS_PASSWORD")]
    [InlineData("SENTINEL_PASSWORD")]
    public void Validate_PasswordThatLooksLikeAServiceLink_KeptAsAPassword(string name)
    {
        var (settings, errors) = WithOne(name, "tcp://10.0.0.1:1");

        Assert.Empty(errors);
        Assert.Equal("tcp://10.0.0.1:1", (name == "REDIS_PASSWORD" ? settings!.Common.RedisPassword : settings!.Common.SentinelPassword)!.Reveal());
    }

    [Fact]
    public void Validate_SentinelPortFromTheSentinelService_ExactErrorLine()
    {
        // Seen on a cluster: the Service `sentinel` made every pod crash-loop on "is invalid (expected a whole number …)".
        var errors = SettingsBuilder.Errors(SettingsBuilder.Raw("redis-1", r => r.SentinelPort = "tcp://10.96.136.25:26379"), NodeMode.Redis);

        Assert.Equal(
            "SENTINEL_PORT='tcp://10.96.136.25:26379' is a Kubernetes service-link variable, injected by the kubelet for the Service named 'sentinel', " +
            "not this setting (expected a whole number from 1 to 65535; set enableServiceLinks: false in the pod spec, or set SENTINEL_PORT explicitly)",
            Assert.Single(errors));
    }

    [Theory]
    [InlineData("tcp://10.96.0.10:6379")]
    [InlineData("udp://10.96.0.10:53")]
    [InlineData("sctp://10.96.0.10:9999")]
    [InlineData("TCP://10.96.0.10:6379")]
    [InlineData("tcp://[fd00:10:96::a]:6379")]
    [InlineData(" tcp://10.96.0.10:6379 ")]
    public void IsServiceLinkValue_KubeletForms_True(string value) => Assert.True(ServiceLink.IsServiceLinkValue(value));

    [Theory]
    [InlineData("6379")]
    [InlineData("redis-0:6379")]
    [InlineData("http://10.96.0.10:6379")]
    [InlineData("tcp://10.96.0.10")]
    [InlineData("tcp://10.96.0.10:6379/path")]
    [InlineData("/etc/redis-secrets/redis-password")]
    public void IsServiceLinkValue_OtherValues_False(string value) => Assert.False(ServiceLink.IsServiceLinkValue(value));

    [Theory]
    [InlineData("SENTINEL_PORT", "sentinel")]
    [InlineData("REDIS_SENTINEL_PORT", "redis-sentinel")]
    [InlineData("REDIS_MASTER_PORT_6379_TCP", "redis-master")]
    [InlineData("HTTP_PORT", "http")]
    [InlineData("REDIS_NODES", null)]
    [InlineData("REDIS_SENTINEL_HOST", null)]
    [InlineData("SENTINEL_SERVICE_PORT", "sentinel-service")] // a Service named sentinel-service would inject exactly this
    public void ServiceOf_VariableName_TheServiceTheKubeletInjectsItFor(string variable, string? service) =>
        Assert.Equal(service, ServiceLink.ServiceOf(variable));

    [Fact]
    public void Validate_ServiceLinkInANonPortSetting_SaysWhereSuchAValueComesFrom()
    {
        var error = Assert.Single(SettingsBuilder.Errors(SettingsBuilder.Raw("redis-0", r => r.RedisNodes = "tcp://10.96.0.10:6379"), NodeMode.Redis));

        Assert.StartsWith("REDIS_NODES='tcp://10.96.0.10:6379' is a Kubernetes service-link value (the kubelet's <SERVICE>_PORT=tcp://<ip>:<port>)", error, StringComparison.Ordinal);
        Assert.Contains("$(..._PORT) reference", error, StringComparison.Ordinal);
        Assert.Contains("expected host:port,host:port,… in ordinal order", error, StringComparison.Ordinal);
    }

    // ---- secrets asked for but empty: never a configuration without auth ----

    public static TheoryData<string, string, string> EmptyPasswordFiles() => new()
    {
        { "REDIS_PASSWORD_FILE", "", "the file is empty" },
        { "REDIS_PASSWORD_FILE", "\n", "the file is empty" },
        { "REDIS_PASSWORD_FILE", "\r\n", "the file is empty" },
        { "REDIS_PASSWORD_FILE", "  \t\n", "only whitespace" },
        { "REDIS_PASSWORD_FILE", "\n\n", "only whitespace" },
        { "SENTINEL_PASSWORD_FILE", "", "the file is empty" },
        { "SENTINEL_PASSWORD_FILE", "\n", "the file is empty" },
        { "SENTINEL_PASSWORD_FILE", " ", "only whitespace" },
    };

    [Theory]
    [MemberData(nameof(EmptyPasswordFiles))]
    public void Validate_PasswordFileWithoutAPassword_ErrorNamingTheVariable(string variable, string content, string why)
    {
        var files = new FakeSettingsFiles().With("/etc/redis-secrets/pw", content);
        foreach (var mode in new[] { NodeMode.Redis, NodeMode.Sentinel, NodeMode.Verify })
        {
            var raw = SettingsBuilder.Raw(mode == NodeMode.Sentinel ? "sentinel-0" : "redis-0", r =>
            {
                if (variable == "REDIS_PASSWORD_FILE") r.RedisPasswordFile = "/etc/redis-secrets/pw";
                else r.SentinelPasswordFile = "/etc/redis-secrets/pw";
            });

            var error = Assert.Single(SettingsBuilder.Errors(raw, mode, files));

            Assert.Equal($"{variable}='/etc/redis-secrets/pw' holds no password ({why}; expected the password, on one line: an empty password would turn authentication off)", error);
        }
    }

    [Theory]
    [InlineData("REDIS_PASSWORD", "")]
    [InlineData("REDIS_PASSWORD", "   ")]
    [InlineData("SENTINEL_PASSWORD", "")]
    [InlineData("SENTINEL_PASSWORD", "\t")]
    public void Validate_PasswordVariableSetButEmpty_ErrorNamingTheVariable(string variable, string value)
    {
        var raw = SettingsBuilder.Raw("redis-0", r =>
        {
            if (variable == "REDIS_PASSWORD") r.RedisPassword = value;
            else r.SentinelPassword = value;
        });

        var error = Assert.Single(SettingsBuilder.Errors(raw, NodeMode.Redis));

        Assert.StartsWith($"{variable} is set but {(value.Length == 0 ? "empty" : "blank")} (expected the password: an empty password would turn authentication off", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PasswordFileWithOneTrailingNewline_PasswordWithoutIt()
    {
        var files = new FakeSettingsFiles().With("/s/pw", " " + Marker + " \n");

        var s = SettingsBuilder.Valid(SettingsBuilder.Raw("redis-0", r => r.RedisPasswordFile = "/s/pw"), NodeMode.Redis, files);

        Assert.Equal(" " + Marker + " ", s.RedisPassword!.Reveal()); // spaces are part of a password; only the newline goes
    }

    // ---- settings that only mean something together ----

    [Fact]
    public void Validate_TlsFilesWithoutTlsEnabled_ErrorForEachFile()
    {
        var files = new FakeSettingsFiles().With("/tls/ca.crt", "x").With("/tls/tls.crt", "x").With("/tls/tls.key", "x");
        var raw = SettingsBuilder.Raw("redis-0", r => { r.TlsCaFile = "/tls/ca.crt"; r.TlsCertFile = "/tls/tls.crt"; r.TlsKeyFile = "/tls/tls.key"; });

        var errors = SettingsBuilder.Errors(raw, NodeMode.Redis, files);

        Assert.Equal(["TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"], errors.Select(e => e[..e.IndexOf(' ')]));
        Assert.All(errors, e => Assert.Contains("is set but TLS_ENABLED is not (expected TLS_ENABLED=true to use TLS, or TLS_ENABLED=false", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_TlsFilesWithTlsExplicitlyOff_NoTls()
    {
        var raw = SettingsBuilder.Raw("redis-0", r => { r.TlsEnabled = "false"; r.TlsCaFile = "/tls/ca.crt"; });

        Assert.Null(SettingsBuilder.Valid(raw, NodeMode.Redis).Tls);
    }

    [Fact]
    public void Validate_MinReplicasMaxLagAlone_Error()
    {
        var error = Assert.Single(SettingsBuilder.Errors(SettingsBuilder.Raw("redis-0", r => r.MinReplicasMaxLag = "10"), NodeMode.Redis));

        Assert.StartsWith("MIN_REPLICAS_MAX_LAG is set but MIN_REPLICAS_TO_WRITE is not", error, StringComparison.Ordinal);
    }
}
