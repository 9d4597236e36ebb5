using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;
using RedisSidecars.Testing;
using StackExchange.Redis;
using Xunit.Sdk;

namespace RedisSidecars.PodTests.Harness;

/// <summary>
/// The dev overlay's Redis + Sentinel StatefulSets running in a <see cref="PodCluster"/>, with what the tests read
/// off them: every name, count, label, port and password comes from the rendered YAML.
/// </summary>
public sealed class DevSet : IAsyncLifetime
{
    public PodCluster Cluster { get; private set; } = null!;
    public RenderedOverlay Overlay { get; private set; } = null!;
    public PodTemplate RedisTemplate { get; private set; } = null!;
    public PodTemplate SentinelTemplate { get; private set; } = null!;
    public SidecarView Sidecar { get; private set; } = null!;
    public int RedisReplicas { get; private set; }
    public int SentinelReplicas { get; private set; }
    public string MasterSet { get; private set; } = "";
    public int RedisPort { get; private set; }
    public int SentinelPort { get; private set; }
    string redisPassword = "";
    string sentinelPassword = "";

    public async Task InitializeAsync()
    {
        Overlay = Kustomize.Overlay("dev");
        RedisTemplate = Overlay.RedisPod();
        SentinelTemplate = Overlay.SentinelPod();
        Sidecar = Overlay.Sidecar(Overlay.SidecarContainer());
        var init = RedisTemplate.Running("redis-init");
        RedisReplicas = Overlay.StatefulSet(RedisTemplate.OwnerName).Spec.Replicas ?? 1;
        SentinelReplicas = Overlay.StatefulSet(SentinelTemplate.OwnerName).Spec.Replicas ?? 1;
        MasterSet = Overlay.Setting(init, "MASTER_SET_NAME") ?? "mymaster";
        RedisPort = int.Parse(Overlay.Setting(init, "REDIS_PORT") ?? "6379", System.Globalization.CultureInfo.InvariantCulture);
        SentinelPort = int.Parse(Overlay.Setting(init, "SENTINEL_PORT") ?? "26379", System.Globalization.CultureInfo.InvariantCulture);
        Cluster = await PodCluster.StartAsync(Overlay);
        redisPassword = Password("REDIS_PASSWORD_FILE");
        sentinelPassword = Password("SENTINEL_PASSWORD_FILE");

        try
        {
            // podManagementPolicy Parallel: every pod of both StatefulSets at once, as the controller creates them.
            await Task.WhenAll(
                Enumerable.Range(0, SentinelReplicas).Select(i => Cluster.StartStatefulSetPodAsync(SentinelTemplate.OwnerName, i))
                    .Concat(Enumerable.Range(0, RedisReplicas).Select(i => Cluster.StartStatefulSetPodAsync(RedisTemplate.OwnerName, i))));
        }
        catch (Exception e)
        {
            var diagnostics = await Cluster.DiagnosticsAsync();
            await Cluster.DisposeAsync();
            throw new XunitException($"the dev overlay's pods did not start: {e.Message}\n{diagnostics}");
        }
    }

    /// <summary>The password a *_FILE setting of redis-init points at, read from the Secret volume behind that path.</summary>
    string Password(string fileSetting)
    {
        var init = RedisTemplate.Running("redis-init");
        var path = Overlay.Setting(init, fileSetting) ?? throw new XunitException($"redis-init has no {fileSetting}");
        var (volume, _, file) = Overlay.Resolve(RedisTemplate, init, path) ?? throw new XunitException($"{path} is on no volume of redis-init");
        var item = volume.Secret?.Items?.FirstOrDefault(i => i.Path == file);
        return Cluster.SecretValue(volume.Secret!.SecretName, item?.Key ?? file);
    }

    public async Task DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
    }

    public string RedisStatefulSet => RedisTemplate.OwnerName;
    public string SentinelStatefulSet => SentinelTemplate.OwnerName;

    public IReadOnlyList<RunningPod> RedisPods => [.. Cluster.Pods.Where(p => p.Namespace == Cluster.Namespace && p.Name.StartsWith(RedisStatefulSet + "-", StringComparison.Ordinal) && !p.Terminating).OrderBy(p => p.Name, StringComparer.Ordinal)];
    public IReadOnlyList<RunningPod> SentinelPods => [.. Cluster.Pods.Where(p => p.Namespace == Cluster.Namespace && p.Name.StartsWith(SentinelStatefulSet + "-", StringComparison.Ordinal) && !p.Terminating).OrderBy(p => p.Name, StringComparer.Ordinal)];

    public string? LabelOf(string pod) => Cluster.Api.GetLabel(Cluster.Namespace, pod, Sidecar.LabelName);

    public string[] PodsLabelledMaster() => [.. RedisPods.Select(p => p.Name).Where(p => LabelOf(p) == Sidecar.MasterValue)];

    /// <summary>One command on a fresh connection to a pod's Redis or Sentinel (over the Docker network); null when it does not answer.</summary>
    public async Task<RedisResult?> TryExecAsync(RunningPod pod, bool sentinel, string command, params object[] args)
    {
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = true,
            ConnectTimeout = 2000,
            SyncTimeout = 2000,
            AsyncTimeout = 2000,
            AllowAdmin = true,
            Protocol = RedisProtocol.Resp2,
            Password = sentinel ? sentinelPassword : redisPassword,
            CommandMap = sentinel ? CommandMap.Sentinel : CommandMap.Default,
        };
        options.EndPoints.Add(pod.Ip, sentinel ? SentinelPort : RedisPort);
        try
        {
            await using var mux = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(5));
            return await mux.GetServer(pod.Ip, sentinel ? SentinelPort : RedisPort).ExecuteAsync(command, args).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is RedisException or TimeoutException) { return null; }
    }

    /// <summary>The pod a Sentinel names as master (it announces DNS names: &lt;pod&gt;.&lt;headless&gt;...), or null.</summary>
    public async Task<string?> SentinelMasterPodAsync(RunningPod sentinel)
    {
        var r = await TryExecAsync(sentinel, true, "SENTINEL", "get-master-addr-by-name", MasterSet);
        return r is null || r.IsNull ? null : ((string?)r[0])?.Split('.')[0];
    }

    /// <summary>The StatefulSet controller's part: every ordinal of both StatefulSets that has no pod gets one.</summary>
    public async Task RecreateMissingPodsAsync()
    {
        var missing = new List<(string Sts, int Ordinal)>();
        foreach (var (sts, count, running) in new[] { (RedisStatefulSet, RedisReplicas, RedisPods), (SentinelStatefulSet, SentinelReplicas, SentinelPods) })
            for (var i = 0; i < count; i++)
                if (running.All(p => p.Name != $"{sts}-{i}")) missing.Add((sts, i));
        await Task.WhenAll(missing.Select(m => Cluster.StartStatefulSetPodAsync(m.Sts, m.Ordinal)));
    }

    /// <summary>
    /// Waits until the set has settled (after the StatefulSet controller's part, <see cref="RecreateMissingPodsAsync"/>): every Sentinel names the same master with plain "master" flags and lists
    /// every other Redis pod as a linked replica, that pod's Redis says master with them all online, exactly that
    /// pod carries the master label and every other the replica label. Returns the master pod.
    /// </summary>
    public async Task<RunningPod> WaitForSettledAsync(TimeSpan timeout, string? notPod = null)
    {
        await RecreateMissingPodsAsync();
        RunningPod? master = null;
        await WaitUntilAsync(async () =>
        {
            string? name = null;
            foreach (var s in SentinelPods)
            {
                var m = await TryExecAsync(s, true, "SENTINEL", "master", MasterSet);
                if (m is null || m.IsNull) return false;
                var d = m.ToDictionary();
                if ((string?)d["flags"] != "master") return false;
                var pod = ((string?)d["ip"])?.Split('.')[0];
                if (name is null) name = pod;
                else if (name != pod) return false;
                var replicas = await TryExecAsync(s, true, "SENTINEL", "replicas", MasterSet);
                if (replicas is null || replicas.Length != RedisReplicas - 1) return false;
                for (var i = 0; i < replicas.Length; i++)
                {
                    var r = replicas[i].ToDictionary();
                    if ((string?)r["flags"] != "slave" || (string?)r["master-link-status"] != "ok") return false;
                }
            }
            if (name is null || name == notPod || RedisPods.FirstOrDefault(p => p.Name == name) is not { } candidate) return false;
            var info = (await TryExecAsync(candidate, false, "INFO", "replication"))?.ToString() ?? "";
            if (!info.Contains("role:master", StringComparison.Ordinal)) return false;
            if (info.Split('\n').Count(l => l.StartsWith("slave", StringComparison.Ordinal) && l.Contains("state=online", StringComparison.Ordinal)) != RedisReplicas - 1) return false;
            if (!PodsLabelledMaster().SequenceEqual([name])) return false;
            if (Sidecar.ReplicaValue is { } replica && RedisPods.Where(p => p.Name != name).Any(p => LabelOf(p.Name) != replica)) return false;
            master = candidate;
            return true;
        }, timeout, "the set settled: one master named by every Sentinel, its replicas linked and online, the master label on it alone");
        return master!;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; on time-out fails with every container's logs.</summary>
    public Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        Wait.UntilAsync(condition, timeout, what, () => Cluster.DiagnosticsAsync());
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DevSetCollection : ICollectionFixture<DevSet>
{
    public const string Name = "dev overlay pods";
}
