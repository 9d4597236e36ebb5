using System.Buffers.Binary;
using System.Net;
using System.Text;
using k8s;
using k8s.Models;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.ManifestTests.Infrastructure;
using RedisSidecars.PodTests.Harness;

namespace RedisSidecars.PodTests.Kubelet;

/// <summary>The harness's other parts on their own (no Docker): docker run arguments, volume files, DNS replies, the double's HTTPS.</summary>
public sealed class HarnessPartsTests
{
    [Fact]
    public void DockerRunArgs_DevSidecar_CarriesItsSecurityContextLimitsAndArgs()
    {
        var dev = Kustomize.Overlay("dev");
        var pod = dev.RedisPod();
        var sidecar = pod.Running("redis-sidecar");

        var args = DockerRunArgs.Build("x", new Dictionary<string, string>(), "pause", pod.Spec, sidecar, sidecar.Image, [new("A", "1")], []);

        var text = string.Join(' ', args);
        var sc = sidecar.SecurityContext;
        Assert.Contains($"--user {sc.RunAsUser}:{sc.RunAsGroup}", text, StringComparison.Ordinal);
        Assert.Contains($"--group-add {pod.Spec.SecurityContext.FsGroup}", text, StringComparison.Ordinal);
        Assert.Contains("--read-only", args);
        Assert.Contains("--cap-drop ALL", text, StringComparison.Ordinal);
        Assert.Contains("--security-opt no-new-privileges", text, StringComparison.Ordinal);
        Assert.Contains($"--memory {sidecar.Resources.Limits["memory"].ToInt64()}", text, StringComparison.Ordinal);
        Assert.Contains("--network container:pause --ipc container:pause", text, StringComparison.Ordinal);
        Assert.Equal([sidecar.Image, .. sidecar.Args], args.SkipWhile(a => a != sidecar.Image));
    }

    [Fact]
    public void DockerRunArgs_CommandAndArgs_ReplaceEntrypointAndCmdWithVariablesExpanded()
    {
        var c = new V1Container { Name = "c", Command = ["redis-server", "/etc/$(DIR)/redis.conf"], Args = ["--port", "$(PORT)"] };

        var args = DockerRunArgs.Build("x", new Dictionary<string, string>(), "p", new V1PodSpec(), c, "img", [new("DIR", "redis"), new("PORT", "7000")], []);

        Assert.Equal(["--entrypoint", "redis-server", "img", "/etc/redis/redis.conf", "--port", "7000"], args.SkipWhile(a => a != "--entrypoint"));
    }

    [Theory]
    [InlineData(null, "65532:65532", null)]
    [InlineData(null, "root", "will run as root")]
    [InlineData(null, "app", "non-numeric user")]
    [InlineData(0L, "65532", "breaks non-root policy")]
    [InlineData(999L, "root", null)]
    public void RunAsNonRoot_ImageAndSecurityContext_AsTheKubeletChecks(long? runAsUser, string imageUser, string? error)
    {
        var violation = DockerRunArgs.RunAsNonRootViolation(new V1PodSecurityContext { RunAsNonRoot = true }, new V1SecurityContext { RunAsUser = runAsUser }, "c", imageUser);

        if (error is null) Assert.Null(violation);
        else Assert.Contains(error, violation, StringComparison.Ordinal);
    }

    [Fact]
    public void VolumeFiles_WrittenAtomicallyWithFsGroup_LayoutModesAndGroupAsTheKubelet()
    {
        var root = Directory.CreateTempSubdirectory("redis-sidecars-volume-").FullName;
        try
        {
            var mode = Convert.ToInt32("440", 8);
            VolumeFiles.WriteAtomically(root, [new VolumeFile("redis-password", "secret\n"u8.ToArray(), mode), new VolumeFile("dir/nested", [1], mode)], DateTimeOffset.UtcNow);
            VolumeFiles.ApplyFsGroup(root, 999, readOnly: true, onRootMismatch: false);

            Assert.Equal("..data/redis-password", new FileInfo(Path.Combine(root, "redis-password")).LinkTarget);
            Assert.StartsWith("..20", new FileInfo(Path.Combine(root, "..data")).LinkTarget, StringComparison.Ordinal);
            Assert.Equal("secret\n", File.ReadAllText(Path.Combine(root, "redis-password")));
            Assert.Equal([1], File.ReadAllBytes(Path.Combine(root, "dir", "nested")));
            var file = Path.Combine(root, "..data", "redis-password");
            Assert.Equal((UnixFileMode)mode, File.GetUnixFileMode(file));
            Assert.True(File.GetUnixFileMode(root).HasFlag(UnixFileMode.SetGroup));
            var (code, stdout, _) = Repo.Run("stat", ["-L", "-c", "%g", file], root);
            Assert.Equal((0, "999"), (code, stdout.Trim()));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    static byte[] Query(string name, ushort type)
    {
        var q = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.Split('.')) { q.Add((byte)label.Length); q.AddRange(Encoding.ASCII.GetBytes(label)); }
        q.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        return [.. q];
    }

    [Fact]
    public void ClusterDns_KnownNameAndUnknownName_ARecordsOrNxdomain()
    {
        IReadOnlyList<IPAddress>? Resolve(string n) => n == "redis-0.redis-headless.redis.svc.cluster.local" ? [IPAddress.Parse("172.31.5.2")] : null;

        var known = ClusterDns.Reply(Query("Redis-0.redis-headless.redis.svc.cluster.local", 1), Resolve)!;
        var aaaa = ClusterDns.Reply(Query("redis-0.redis-headless.redis.svc.cluster.local", 28), Resolve)!;
        var unknown = ClusterDns.Reply(Query("redis-9.redis-headless.redis.svc.cluster.local", 1), Resolve)!;

        Assert.Equal((0x1234, 0, 1), (BinaryPrimitives.ReadUInt16BigEndian(known), known[3] & 0x0f, BinaryPrimitives.ReadUInt16BigEndian(known.AsSpan(6))));
        Assert.Equal([172, 31, 5, 2], known[^4..]);
        Assert.Equal((0, 0), (aaaa[3] & 0x0f, BinaryPrimitives.ReadUInt16BigEndian(aaaa.AsSpan(6)))); // the name exists, no IPv6 address
        Assert.Equal((3, 0), (unknown[3] & 0x0f, BinaryPrimitives.ReadUInt16BigEndian(unknown.AsSpan(6)))); // NXDOMAIN
        Assert.Null(ClusterDns.Reply([1, 2, 3], Resolve));
    }

    [Fact]
    public async Task KubeApiDouble_WithTls_TheRealClientTrustingItsCaReadsAPod_WithoutItFails()
    {
        await using var api = await KubeApiServer.StartAsync(tlsSubjectAltNames: ["kubernetes.default.svc"]);
        api.AddPod("ns", "redis-0", new Dictionary<string, string> { ["a"] = "b" });
        var ca = api.WriteCaCertificate(Path.GetTempFileName());
        try
        {
            var caCerts = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            caCerts.ImportFromPemFile(ca);
            Assert.Equal("https", api.BaseAddress.Scheme);
            var trusting = new k8s.Kubernetes(new KubernetesClientConfiguration
            {
                Host = api.BaseAddress.ToString(), AccessToken = api.Token, SslCaCerts = caCerts,
            });
            var plain = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = api.BaseAddress.ToString(), AccessToken = api.Token });

            var pod = await trusting.CoreV1.ReadNamespacedPodAsync("redis-0", "ns");
            Assert.Equal("b", pod.Metadata.Labels["a"]);
            await Assert.ThrowsAsync<HttpRequestException>(() => plain.CoreV1.ReadNamespacedPodAsync("redis-0", "ns"));
        }
        finally { File.Delete(ca); }
    }
}
