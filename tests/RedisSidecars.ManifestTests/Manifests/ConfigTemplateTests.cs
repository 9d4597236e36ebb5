using System.Security.Cryptography;
using System.Text;
using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>The redis.conf / sentinel.conf templates, the ACL file and the secret files behind them.</summary>
public class ConfigTemplateTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    /// <summary>Directives redis-init generates; a template or override that sets them would be replaced or fight them.</summary>
    static readonly string[] Generated = ["replicaof", "slaveof", "requirepass", "masterauth", "masteruser", "replica-announce-ip", "replica-announce-port", "user", "port", "tls-port"];

    static string[] Directives(string conf, string name) =>
        conf.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#')
            .Where(l => l.Split(' ', 2)[0].Equals(name, StringComparison.OrdinalIgnoreCase)).ToArray();

    static (V1ConfigMap Map, string Key) Template(RenderedOverlay r, PodTemplate pod)
    {
        var init = pod.Running("redis-init");
        var path = init.Args.Arg("--template")!;
        var (volume, _, rel) = r.Resolve(pod, init, path)!.Value;
        var map = r.ConfigMap(volume.ConfigMap.Name);
        return (map, volume.ConfigMap.Items?.SingleOrDefault(i => i.Path == rel)?.Key ?? rel);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void RedisTemplate_PersistsWithAofEverySecond(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var (map, key) = Template(r, r.RedisPod());
        var conf = map.Data[key];

        Assert.Equal(["appendonly yes"], Directives(conf, "appendonly"));
        Assert.Equal(["appendfsync everysec"], Directives(conf, "appendfsync"));
        Assert.Equal([$"dir \"{r.Setting(r.RedisPod().Running("redis-init"), "DATA_DIR") ?? "/data"}\""], Directives(conf, "dir"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void RedisTemplate_UsesAnAclFileFromASecret(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.RedisPod();
        var (map, key) = Template(r, pod);
        var conf = map.Data[key];

        var aclfile = Assert.Single(Directives(conf, "aclfile")).Split(' ', 2)[1].Trim('"');
        var (volume, _, rel) = r.Resolve(pod, pod.Container("redis"), aclfile) ?? throw new Xunit.Sdk.XunitException($"redis does not mount {aclfile}");
        Assert.NotNull(volume.Secret);
        Assert.Contains(rel, r.FilesIn(volume));
        // `user` lines (in the template, or generated for REDIS_USERNAME) and an aclfile make Redis refuse to start.
        Assert.Empty(Directives(conf, "user"));
        foreach (var c in pod.Containers().Select(x => x.Container).Where(c => Contract.IsOurImage(c.Image)))
            Assert.Null(r.Setting(c, "REDIS_USERNAME"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Templates_LeaveGeneratedDirectivesToRedisInit(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var pod in new[] { r.RedisPod(), r.SentinelPod() })
        {
            var (map, key) = Template(r, pod);
            foreach (var name in Generated.Except(["port"]))
                Assert.True(Directives(map.Data[key], name).Length == 0, $"{pod}: template sets {name}, which redis-init generates");
            Assert.DoesNotContain(map.Data[key].Split('\n'), l => l.TrimStart().StartsWith("sentinel monitor", StringComparison.Ordinal));
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Overrides_AreIncludedFromTheMountedTemplateAndSetNothingGenerated(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.RedisPod();
        var (map, key) = Template(r, pod);
        var conf = map.Data[key];

        var include = Assert.Single(Directives(conf, "include")).Split(' ', 2)[1].Trim('"');
        var (volume, _, rel) = r.Resolve(pod, pod.Container("redis"), include) ?? throw new Xunit.Sdk.XunitException($"redis does not mount {include}");
        Assert.Equal(map.Metadata.Name, volume.ConfigMap?.Name);
        var overrides = map.Data[rel];
        foreach (var name in Generated.Concat(["aclfile", "include", "dir"]))
            Assert.True(Directives(overrides, name).Length == 0, $"{overlay}: {rel} sets {name}");
        // Last directive wins in redis.conf: the include must follow the template's own settings.
        Assert.StartsWith("include", conf.Split('\n').Select(l => l.Trim()).Last(l => l.Length > 0 && l[0] != '#'), StringComparison.Ordinal);
    }

    [Fact]
    public void Dev_Overrides_FsyncEveryWrite()
    {
        var r = Kustomize.Overlay("dev");
        var (map, _) = Template(r, r.RedisPod());

        Assert.Equal(["appendfsync always"], Directives(map.Data["overrides.conf"], "appendfsync"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void SentinelTemplate_KeepsItsDirInTheWritableConfigVolume(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.SentinelPod();
        var (map, key) = Template(r, pod);
        var dir = Assert.Single(Directives(map.Data[key], "dir")).Split(' ', 2)[1].Trim('"');
        var output = pod.Running("redis-init").Args.Arg("--output")!;

        Assert.Equal(Path.GetDirectoryName(output), dir);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void MakeSecrets_WritesAnAclFileMatchingThePasswords(string overlay)
    {
        var dir = Path.Combine(Kustomize.ManifestsCopy, "overlays", overlay, "secrets");
        var admin = File.ReadAllText(Path.Combine(dir, "redis-password.txt"));
        var app = File.ReadAllText(Path.Combine(dir, "app-password.txt"));
        var acl = File.ReadAllLines(Path.Combine(dir, "users-acl.txt"));

        Assert.True(admin.Length >= 32 && app.Length >= 32 && admin != app);
        var user = acl.Single(l => l.StartsWith("user default ", StringComparison.Ordinal)).Split(' ');
        Assert.Contains("on", user);
        Assert.Contains("#" + Sha256(admin), user); // the password Sentinel, redis-init, the sidecar and the probes use
        Assert.Contains("+@all", user);
        var appUser = acl.Single(l => l.StartsWith("user app ", StringComparison.Ordinal)).Split(' ');
        Assert.Contains("#" + Sha256(app), appUser);
        foreach (var denied in new[] { "flushdb", "flushall", "config", "shutdown", "debug" })
            Assert.True(appUser.Contains("-" + denied), $"the app user may run {denied.ToUpperInvariant()}");
        Assert.DoesNotContain(acl, l => l.Contains(admin, StringComparison.Ordinal) || l.Contains(app, StringComparison.Ordinal));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Secrets_AreGeneratedFromGitIgnoredFiles(string overlay)
    {
        var files = KustomizationFile.Load(Path.Combine("overlays", overlay)).SecretFiles;
        Assert.NotEmpty(files);
        foreach (var f in files)
        {
            var path = Path.Combine("manifests", "overlays", overlay, f);
            var (code, _, err) = Repo.Run("git", ["check-ignore", "--no-index", "-q", path], Repo.Root);
            Assert.True(code == 0, $"{path} is not ignored by git: a secret file could be committed{err}");
        }
    }

    static string Sha256(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}
