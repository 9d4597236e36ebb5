using System.Runtime.CompilerServices;
using System.Text;
using RedisSidecars.Core.Rendering;
using RedisSidecars.Core.Settings;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

/// <summary>
/// Golden files (STYLE.md 12): <c>testdata/&lt;case&gt;/template.conf</c> is the ConfigMap base, the other inputs
/// are below in <see cref="Cases"/>, and <c>expected.conf</c> is the exact output, compared as text (line
/// endings normalized, nothing else), so a regression reads as a diff.
///
/// To regenerate after an intended change, run
/// <c>UPDATE_GOLDEN=1 dotnet test tests/RedisSidecars.UnitTests --filter FullyQualifiedName~RendererGoldenTests</c>;
/// it rewrites the expected files in the source tree. Review them with <c>git diff</c> before committing.
/// </summary>
public class RendererGoldenTests
{
    /// <summary>Redis reads its config quoted, so a Redis password may hold spaces, quotes and backslashes.</summary>
    const string Password = "p@ss \"w0rd\" \\ #$x";
    /// <summary>Sentinel rewrites its config unquoted, so the validator refuses spaces and quotes there (still quoted on output).</summary>
    const string SentinelModeRedisPassword = "p@ss#w0rd$x\\y";
    const string SentinelPassword = "s3ntinel-pa$$";
    static readonly TlsSettings Tls = new("/tls/ca.crt", "/tls/tls.crt", "/tls/tls.key");
    static readonly string MyId = SentinelConfRenderer.MyId("default", "sentinel-1");

    static readonly Dictionary<string, Func<string, string>> Cases = new()
    {
        ["redis-replica-password"] = t => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = t,
            Announce = Addr("redis-1.redis-headless.default.svc.cluster.local:6379"),
            ReplicaOf = Addr("redis-0.redis-headless.default.svc.cluster.local:6379"),
            Port = 6379,
            Password = new Secret(Password),
            Decision = "role=replica master=redis-0.redis-headless.default.svc.cluster.local:6379 source=sentinels agree=3/3",
        }),
        ["redis-master-acl-user"] = t => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = t,
            Announce = Addr("redis-0.redis-headless.default.svc.cluster.local:6379"),
            ReplicaOf = null,
            Port = 6379,
            Password = new Secret(Password),
            Username = "app",
            Decision = "role=master master=redis-0.redis-headless.default.svc.cluster.local:6379 source=default reason=nothing-reachable",
        }),
        ["redis-tls-min-replicas"] = t => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = t,
            Announce = Addr("redis-2.redis-headless.default.svc.cluster.local:6380"),
            ReplicaOf = Addr("redis-0.redis-headless.default.svc.cluster.local:6380"),
            Port = 6380,
            Password = new Secret("pw"),
            MinReplicasToWrite = 1,
            MinReplicasMaxLag = 15,
            Tls = Tls,
            Decision = "role=replica master=redis-0.redis-headless.default.svc.cluster.local:6380 source=peers masters=1 answered=2/2",
        }),
        ["redis-template-owned-directives"] = t => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = t,
            Announce = Addr("127.0.1.2:6379"),
            ReplicaOf = Addr("127.0.1.1:6379"),
            Port = 6379,
            Password = new Secret("new secret"),
            Decision = "role=replica master=127.0.1.1:6379 source=sentinels agree=2/3",
        }),
        ["redis-ipv6-master"] = t => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = t,
            Announce = Addr("[fd00::2]:6379"),
            ReplicaOf = Addr("[fd00::1]:6379"),
            Port = 6379,
            Decision = "role=replica master=[fd00::1]:6379 source=sentinels agree=3/3",
        }),
        ["redis-builtin-base"] = _ => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = RedisConfRenderer.BuiltInTemplate("/data"),
            Announce = Addr("redis-0.redis-headless.default.svc.cluster.local:6379"),
            ReplicaOf = null,
            Port = 6379,
            Decision = "role=master master=redis-0.redis-headless.default.svc.cluster.local:6379 source=default reason=nothing-reachable",
        }),
        ["redis-template-port-differs"] = t => RedisConfRenderer.Render(new RedisConfInput
        {
            Template = t,
            Announce = Addr("redis-1.redis-headless.default.svc.cluster.local:6390"),
            ReplicaOf = Addr("redis-0.redis-headless.default.svc.cluster.local:6390"),
            Port = 6390,
            Decision = "role=replica master=redis-0.redis-headless.default.svc.cluster.local:6390 source=sentinels agree=3/3",
        }),
        ["sentinel-template-port-differs"] = t => SentinelConfRenderer.Render(Sentinel(t) with
        {
            Announce = Addr("sentinel-1.sentinel-headless.default.svc.cluster.local:26390"),
        }),
        ["sentinel-auth"] = t => SentinelConfRenderer.Render(Sentinel(t) with
        {
            RedisPassword = new Secret(SentinelModeRedisPassword),
            RedisUsername = "app",
            SentinelPassword = new Secret(SentinelPassword),
        }),
        ["sentinel-rename-command"] = t => SentinelConfRenderer.Render(Sentinel(t)),
        ["sentinel-tls"] = t => SentinelConfRenderer.Render(Sentinel(t) with { Tls = Tls, RedisPassword = new Secret("pw") }),
        ["sentinel-ipv6-master"] = t => SentinelConfRenderer.Render(Sentinel(t) with
        {
            Master = Addr("[fd00::1]:6379"),
            Announce = Addr("[fd00::12]:26379"),
            Decision = "role=sentinel master=[fd00::1]:6379 source=peers masters=1 answered=3/3",
        }),
        ["sentinel-builtin-base"] = _ => SentinelConfRenderer.Render(Sentinel(SentinelConfRenderer.BuiltInTemplate("/etc/redis"))),
    };

    static SentinelConfInput Sentinel(string template) => new()
    {
        Template = template,
        MasterSetName = "mymaster",
        Master = Addr("redis-0.redis-headless.default.svc.cluster.local:6379"),
        Quorum = 2,
        Announce = Addr("sentinel-1.sentinel-headless.default.svc.cluster.local:26379"),
        MyId = MyId,
        DownAfterMs = 5000,
        FailoverTimeoutMs = 30000,
        ParallelSyncs = 1,
        MasterRebootDownAfterMs = 5000,
        Decision = "role=sentinel master=redis-0.redis-headless.default.svc.cluster.local:6379 source=sentinels agree=2/3",
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Render_GoldenCase_MatchesExpectedFile(string name)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "testdata", name);
        var templatePath = Path.Combine(dir, "template.conf");
        // The template goes in as it is on disk (one of them has CRLF line endings): the renderer must cope.
        var template = File.Exists(templatePath) ? File.ReadAllText(templatePath) : "";

        var actual = Cases[name](template);

        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            var source = Path.Combine(SourceTestData(), name);
            Directory.CreateDirectory(source);
            File.WriteAllText(Path.Combine(source, "expected.conf"), actual);
            return;
        }

        var expectedPath = Path.Combine(dir, "expected.conf");
        Assert.True(File.Exists(expectedPath), $"{expectedPath} is missing; run with UPDATE_GOLDEN=1 to create it, then review it");
        var expected = Normalize(File.ReadAllText(expectedPath));
        if (expected != actual)
            Assert.Fail($"rendered config for '{name}' differs from testdata/{name}/expected.conf (- expected, + actual):\n{LineDiff(expected, actual)}");
    }

    [Fact]
    public void GoldenCases_EveryTestdataDirectory_HasACase()
    {
        var onDisk = Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "testdata")).Select(Path.GetFileName).Order();

        Assert.Equal(Cases.Keys.Order(), onDisk);
    }

    [Fact]
    public void Render_RedisTemplateOwnedDirectives_EachOwnedDirectiveOnlyOnceAndLast()
    {
        var output = Render("redis-template-owned-directives");
        var directives = output.Split('\n').Select(ConfigQuoting.Directive).Where(d => d is not null).Select(d => d![0]).ToList();

        Assert.Single(directives, d => d == "replicaof");
        Assert.Single(directives, d => d == "requirepass");
        Assert.Single(directives, d => d == "masterauth");
        Assert.DoesNotContain("masteruser", directives);
        Assert.DoesNotContain("slaveof", directives);
        Assert.DoesNotContain("old secret", output);
        Assert.Single(directives, d => d == "port"); // the generated one
        foreach (var kept in new[] { "bind", "dir", "appendonly" })
            Assert.Contains(kept, directives);
    }

    [Theory]
    [InlineData("redis-template-port-differs", "port 6390")]
    [InlineData("sentinel-template-port-differs", "port 26390")]
    [InlineData("redis-tls-min-replicas", "port 0|tls-port 6380")]
    [InlineData("sentinel-tls", "port 0|tls-port 26379")]
    public void Render_TemplateWithItsOwnPort_OnlyTheGeneratedListenerLines(string name, string expected)
    {
        var listeners = Render(name).Split('\n').Where(l => ConfigQuoting.Directive(l)?[0] is "port" or "tls-port");

        Assert.Equal(expected.Split('|'), listeners);
    }

    [Theory]
    [InlineData("tls-port 6380\n", "tls-port 6380")]
    [InlineData("bind *\r\n  TLS-PORT \"6380\"\r\n", "TLS-PORT \"6380\"")]
    [InlineData("tls-port 0\n", null)]
    [InlineData("# tls-port 6380\nport 6379\n", null)]
    [InlineData("", null)]
    public void TlsListenerInTemplate_OnlyANonZeroTlsPort(string template, string? line) =>
        Assert.Equal(line, ListenerDirectives.TlsListenerInTemplate(template));

    [Fact]
    public void Render_TemplateAuthWithoutConfiguredPassword_TemplateAuthKept()
    {
        var output = RedisConfRenderer.Render(new RedisConfInput
        {
            Template = "requirepass \"from template\"\nmasterauth \"from template\"\n",
            Announce = Addr("127.0.1.2:6379"),
            ReplicaOf = null,
            Port = 6379,
            Decision = "role=master",
        });
        Assert.Contains("requirepass \"from template\"\n", output);
        Assert.Contains("masterauth \"from template\"\n", output);
    }

    [Fact]
    public void Render_SentinelPerMasterDirective_AfterMonitorLine()
    {
        var output = Render("sentinel-rename-command");
        var lines = output.Split('\n');

        var monitor = Array.FindIndex(lines, l => l.StartsWith("sentinel monitor mymaster ", StringComparison.Ordinal));
        var rename = Array.FindIndex(lines, l => l.StartsWith("sentinel rename-command mymaster ", StringComparison.Ordinal));
        Assert.True(monitor >= 0 && rename > monitor, $"monitor at line {monitor}, rename-command at line {rename}:\n{output}");
    }

    [Fact]
    public void Render_PasswordValue_WrittenQuotedAndReadBackExactly()
    {
        var output = Render("redis-replica-password");
        var requirepass = output.Split('\n').Single(l => l.StartsWith("requirepass ", StringComparison.Ordinal));

        var args = ConfigQuoting.SplitArgs(requirepass);

        Assert.NotNull(args);
        Assert.Equal(Password, Encoding.UTF8.GetString(args[1]));
    }

    [Fact]
    public void MyId_SamePod_StableFortyHexDigitsDifferentPerPod()
    {
        var id = SentinelConfRenderer.MyId("default", "sentinel-0");

        Assert.Equal(id, SentinelConfRenderer.MyId("default", "sentinel-0"));
        Assert.Matches("^[0-9a-f]{40}$", id);
        Assert.NotEqual(id, SentinelConfRenderer.MyId("default", "sentinel-1"));
        Assert.NotEqual(id, SentinelConfRenderer.MyId("prod", "sentinel-0"));
    }

    static string Render(string name) => Cases[name](File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "testdata", name, "template.conf")));

    static string Normalize(string text) => text.ReplaceLineEndings("\n");

    static string SourceTestData([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "testdata"));

    /// <summary>A line diff (longest common subsequence): " " same, "-" only expected, "+" only actual.</summary>
    internal static string LineDiff(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var sb = new StringBuilder();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { sb.Append("  ").Append(a[x]).Append('\n'); x++; y++; }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1])) { sb.Append("- ").Append(Visible(a[x])).Append('\n'); x++; }
            else { sb.Append("+ ").Append(Visible(b[y])).Append('\n'); y++; }
        }
        return sb.ToString();
    }

    static string Visible(string line) => line.Length == 0 ? "" : line.Replace("\t", "\\t").Replace("\r", "\\r") + (line[^1] == ' ' ? "   <- trailing space" : "");

    [Fact]
    public void LineDiff_OneLineChanged_MinusAndPlusLines()
    {
        var diff = LineDiff("a\nb\nc", "a\nB\nc");

        Assert.Equal("  a\n- b\n+ B\n  c\n", diff);
    }
}
