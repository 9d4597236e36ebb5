using System.Globalization;
using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;
using RedisSidecars.PodTests.Harness;
using RedisSidecars.PodTests.Kubelet;
using Xunit.Sdk;

namespace RedisSidecars.PodTests;

/// <summary>
/// The dev overlay, rendered, run as pods from the built images (see <see cref="PodCluster"/>). Every test starts from
/// a settled set and leaves one; each asserts on what a cluster would show: labels in the API, Sentinel's view,
/// Redis' replication, exit codes.
/// </summary>
[Collection(DevSetCollection.Name)]
public sealed class DevOverlayPodTests(DevSet set)
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(150);
    /// <summary>README, exit codes of both programs: 2 = bad configuration.</summary>
    const int BadConfiguration = 2;

    [Fact]
    public async Task DevOverlay_Started_FormsOneSetWhoseOnlyLabelledMasterIsTheSentinelsMaster()
    {
        var master = await set.WaitForSettledAsync(Settle);

        Assert.Equal([master.Name], set.PodsLabelledMaster());
        foreach (var sentinel in set.SentinelPods) Assert.Equal(master.Name, await set.SentinelMasterPodAsync(sentinel));
        Assert.True(set.Cluster.IsReady(master), $"{master} is labelled master but not ready\n{await set.Cluster.DiagnosticsAsync()}");
        NeverTwoMasters();
    }

    [Fact]
    public async Task EveryRunningContainer_RunsAsItsSecurityContextSays()
    {
        await set.WaitForSettledAsync(Settle);
        var checkedContainers = 0;
        foreach (var pod in set.RedisPods.Concat(set.SentinelPods))
        {
            foreach (var c in pod.Containers.Where(c => c.Created && c.Ended is null))
            {
                var status = await ProcessStatusAsync(c.DockerName);
                var sc = c.Spec.SecurityContext;
                var psc = pod.Spec.SecurityContext;
                var where = $"{pod}/{c.Name}";
                Assert.True((sc?.RunAsUser ?? psc?.RunAsUser) is not null, $"{where}: no runAsUser in the manifests");
                Assert.Equal((sc?.RunAsUser ?? psc?.RunAsUser)!.Value.ToString(CultureInfo.InvariantCulture), status["Uid"].Split('\t')[0]);
                if ((sc?.RunAsGroup ?? psc?.RunAsGroup) is { } gid) Assert.Equal(gid.ToString(CultureInfo.InvariantCulture), status["Gid"].Split('\t')[0]);
                if (psc?.FsGroup is { } fsGroup) Assert.Contains(fsGroup.ToString(CultureInfo.InvariantCulture), status["Groups"].Split(' ', StringSplitOptions.RemoveEmptyEntries));
                if (sc?.Capabilities?.Drop?.Contains("ALL") == true && sc.Capabilities.Add is not { Count: > 0 }) Assert.Equal("0000000000000000", status["CapEff"]);
                if (sc?.AllowPrivilegeEscalation == false) Assert.Equal("1", status["NoNewPrivs"]);
                if (sc?.ReadOnlyRootFilesystem == true) Assert.True(status["RootMount"].Split(',').Contains("ro"), $"{where}: / is mounted {status["RootMount"]}");
                if (c.Spec.Resources?.Limits?.TryGetValue("memory", out var memory) == true)
                    Assert.Equal(memory.ToInt64().ToString(CultureInfo.InvariantCulture), status["MemoryLimit"]);
                checkedContainers++;
            }
        }
        Assert.Equal((set.RedisReplicas * set.RedisTemplate.Containers().Count(c => !c.IsInit || c.Container.RestartPolicy == "Always"))
            + (set.SentinelReplicas * set.SentinelTemplate.Containers().Count(c => !c.IsInit || c.Container.RestartPolicy == "Always")), checkedContainers);
    }

    [Fact]
    public async Task EveryReadinessAndLivenessProbe_OnTheSettledSet_Passes()
    {
        await set.WaitForSettledAsync(Settle);
        var failures = new List<string>();
        var probes = 0;
        foreach (var pod in set.RedisPods.Concat(set.SentinelPods))
        {
            foreach (var c in pod.Containers.Where(c => c.Created && c.Ended is null))
            {
                foreach (var (kind, probe) in new[] { ("readiness", c.Spec.ReadinessProbe), ("liveness", c.Spec.LivenessProbe) })
                {
                    if (probe is null) continue;
                    probes++;
                    var result = await Prober.ProbeAsync(pod.Ip, c.Spec, c.DockerName, probe);
                    if (!result.Success) failures.Add($"{pod}/{c.Name} {kind}: {result.Detail}");
                }
            }
        }
        Assert.True(probes > 0, "the manifests declare no readiness or liveness probe");
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + await set.Cluster.DiagnosticsAsync());
    }

    [Fact]
    public async Task VerifyJob_OnTheSettledSet_ExitsZero()
    {
        await set.WaitForSettledAsync(Settle);
        var job = set.Overlay.VerifyPod().OwnerName;

        var result = await set.Cluster.RunJobAsync(job, TimeSpan.FromMinutes(2));

        Assert.True(result.ExitCodes.Count > 0 && result.ExitCodes.Values.All(code => code == 0),
            $"Job {job}: {string.Join(", ", result.ExitCodes.Select(kv => $"{kv.Key} exit {kv.Value}"))}\n{result.Logs}\n{await set.Cluster.DiagnosticsAsync()}");
    }

    [Fact]
    public async Task MasterContainerKilled_AnotherPodIsLabelledMaster_AndTheRecreatedPodRejoinsAsAReplicaWithItsData()
    {
        var master = await set.WaitForSettledAsync(Settle);
        var key = $"podtests:{Guid.NewGuid():N}";
        Assert.Equal("OK", (await set.TryExecAsync(master, false, "SET", key, "before-the-kill"))?.ToString());
        Assert.Equal(set.RedisReplicas - 1, (int?)await set.TryExecAsync(master, false, "WAIT", set.RedisReplicas - 1, 5000));
        var claim = set.Cluster.ClaimsOf(master).Single();

        await set.Cluster.KillContainerAsync(master, set.RedisTemplate.Server("redis").Name);

        await set.WaitUntilAsync(async () => set.PodsLabelledMaster() is [var other] && other != master.Name
            && await set.SentinelMasterPodAsync(set.SentinelPods[0]) == other, Settle, $"a pod other than {master.Name} is labelled master and named by Sentinel");
        await set.Cluster.DeletePodAsync(master);
        Assert.Contains("appendonlydir", Directory.GetFileSystemEntries(await set.Cluster.ClaimPathAsync(claim)).Select(Path.GetFileName));
        var ordinal = int.Parse(master.Name[(master.Name.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
        var recreated = await set.Cluster.StartStatefulSetPodAsync(set.RedisStatefulSet, ordinal);

        var newMaster = await set.WaitForSettledAsync(Settle);
        Assert.NotEqual(recreated.Name, newMaster.Name);
        var info = (await set.TryExecAsync(recreated, false, "INFO", "replication"))?.ToString() ?? "";
        Assert.Contains("role:slave", info, StringComparison.Ordinal);
        Assert.Contains("master_link_status:up", info, StringComparison.Ordinal);
        Assert.Equal("before-the-kill", (await set.TryExecAsync(recreated, false, "GET", key))?.ToString());
        Assert.Equal(claim, set.Cluster.ClaimsOf(recreated).Single());
        NeverTwoMasters();
    }

    [Fact]
    public async Task SentinelPodRecreatedAfterAFailover_MonitorsTheCurrentMaster()
    {
        var before = await set.WaitForSettledAsync(Settle);
        var asked = set.SentinelPods[0];
        // Sentinel refuses a failover while it still refreshes its replicas' state (NOGOODSLAVE): ask until it accepts.
        await set.WaitUntilAsync(async () => (await set.TryExecAsync(asked, true, "SENTINEL", "FAILOVER", set.MasterSet))?.ToString() == "OK",
            TimeSpan.FromSeconds(30), $"{asked.Name} accepts SENTINEL FAILOVER");
        var after = await set.WaitForSettledAsync(Settle, notPod: before.Name);

        var sentinel = set.SentinelPods[^1];
        var ordinal = int.Parse(sentinel.Name[(sentinel.Name.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
        await set.Cluster.DeletePodAsync(sentinel);
        var recreated = await set.Cluster.StartStatefulSetPodAsync(set.SentinelStatefulSet, ordinal);

        await set.WaitUntilAsync(async () =>
            await set.SentinelMasterPodAsync(recreated) == after.Name
            && (await set.TryExecAsync(recreated, true, "SENTINEL", "replicas", set.MasterSet))?.Length == set.RedisReplicas - 1
            && (await set.TryExecAsync(recreated, true, "SENTINEL", "sentinels", set.MasterSet))?.Length == set.SentinelReplicas - 1,
            Settle, $"the recreated {recreated.Name} monitors {after.Name} with every replica and every other Sentinel");
        Assert.Equal(after.Name, (await set.WaitForSettledAsync(Settle)).Name);
        NeverTwoMasters();
    }

    [Fact]
    public async Task MasterPodDeleted_PreStopHandsOverBeforeSigterm_AndTheRecreatedPodIsAReplica()
    {
        var master = await set.WaitForSettledAsync(Settle);
        var redis = set.RedisTemplate.Server("redis");
        Assert.True(redis.Lifecycle?.PreStop is not null, "the Redis container has no preStop hook");

        await set.Cluster.DeletePodAsync(master);

        Assert.True(master.PreStopResults.TryGetValue(redis.Name, out var hook), $"no preStop ran for {redis.Name}");
        Assert.True(hook.Success && hook.Detail.Contains("HandedOver", StringComparison.Ordinal), $"preStop: {hook.Detail}\n{await set.Cluster.DiagnosticsAsync()}");
        var ordinal = int.Parse(master.Name[(master.Name.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
        var recreated = await set.Cluster.StartStatefulSetPodAsync(set.RedisStatefulSet, ordinal);
        var newMaster = await set.WaitForSettledAsync(Settle);
        Assert.NotEqual(recreated.Name, newMaster.Name);
        NeverTwoMasters();
    }

    /// <summary>
    /// The harness bites: the Redis pod run with service links on, and a Service whose link variables name a setting
    /// that one of our containers reads but does not declare, fails at that container — the crash loop a real cluster
    /// showed — with the bad-configuration exit code and a message naming the variable.
    /// </summary>
    [Fact]
    public async Task RedisPod_WithServiceLinksAndAServiceNamedLikeASetting_FailsNamingTheVariable()
    {
        const string ns = "links";
        var services = set.Cluster.ServicesIn(set.Cluster.Namespace).Select(s => new V1Service
        {
            Metadata = new V1ObjectMeta { Name = s.Metadata.Name, NamespaceProperty = ns, Labels = s.Metadata.Labels },
            Spec = s.Spec,
        }).ToList();
        (V1Container Container, string[] Names)? expected = null;
        foreach (var (c, _) in set.RedisTemplate.Containers().Where(c => Contract.IsOurImage(c.Container.Image)))
        {
            var reads = Contract.Program(c.Image) == "redis-init" ? Contract.CommonSettingNames : Contract.SettingNames;
            var declared = set.Overlay.Env(c).Keys.ToHashSet(StringComparer.Ordinal);
            var linked = services.SelectMany(s => ContainerEnvironment.ServiceVariables(new ServiceLink(s.Metadata.Name, ns, "10.0.0.1", [.. s.Spec.Ports ?? []])))
                .Select(kv => kv.Key).Where(n => reads.Contains(n) && !declared.Contains(n)).ToArray();
            if (linked.Length > 0) { expected = (c, linked); break; }
            if (reads.Where(n => n.EndsWith("_PORT", StringComparison.Ordinal) && !declared.Contains(n)).Order(StringComparer.Ordinal).FirstOrDefault() is { } setting)
            {
                var serviceName = setting[..^"_PORT".Length].ToLowerInvariant().Replace('_', '-');
                services.Add(new V1Service
                {
                    Metadata = new V1ObjectMeta { Name = serviceName, NamespaceProperty = ns },
                    Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Name = "tcp", Port = 8080, Protocol = "TCP" }], Selector = new Dictionary<string, string> { ["app"] = "other" } },
                });
                expected = (c, [setting]);
                break;
            }
        }
        Assert.True(expected is not null, "no container of ours reads an undeclared *_PORT setting that a Service could shadow");
        set.Cluster.AddServices(ns, services);

        var failure = await Assert.ThrowsAsync<PodStartException>(() =>
            set.Cluster.StartStatefulSetPodAsync(set.RedisStatefulSet, 0, new PodOptions(Namespace: ns, EnableServiceLinks: true)));

        Assert.Equal(expected.Value.Container.Name, failure.Container.Name);
        var linkedValue = failure.Container.Env.Where(kv => expected.Value.Names.Contains(kv.Key)).Select(kv => kv.Value).ToArray();
        Assert.All(linkedValue, v => Assert.StartsWith("tcp://", v, StringComparison.Ordinal));
        Assert.True(failure.ExitCode == BadConfiguration, $"expected exit {BadConfiguration}: {failure.Message}");
        Assert.True(expected.Value.Names.Any(n => failure.Logs.Contains(n, StringComparison.Ordinal)),
            $"the error does not name any of {string.Join(", ", expected.Value.Names)}:\n{failure.Logs}");
    }

    void NeverTwoMasters() =>
        Assert.True(set.Cluster.Api.Timeline.MaxConcurrent(set.Sidecar.LabelName, set.Sidecar.MasterValue) <= 1,
            $"two pods carried {set.Sidecar.LabelName}={set.Sidecar.MasterValue} at once");

    /// <summary>What the kernel says about a container's main process: ids, groups, capabilities, no_new_privs, / mount, memory limit.</summary>
    static async Task<Dictionary<string, string>> ProcessStatusAsync(string container)
    {
        var pid = await Docker.RunAsync(["inspect", "-f", "{{.State.Pid}}", container]);
        var status = File.ReadAllLines($"/proc/{pid}/status").Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.Ordinal);
        var root = File.ReadAllLines($"/proc/{pid}/mountinfo").Select(l => l.Split(' ')).First(f => f[4] == "/");
        status["RootMount"] = root[5];
        var memory = File.ReadAllLines($"/proc/{pid}/cgroup").Select(l => l.Split(':', 3)).FirstOrDefault(p => p[1].Split(',').Contains("memory"));
        var limit = memory is null ? null : Path.Combine("/sys/fs/cgroup/memory", memory[2].TrimStart('/'), "memory.limit_in_bytes");
        status["MemoryLimit"] = limit is not null && File.Exists(limit) ? File.ReadAllText(limit).Trim() : "(no memory cgroup)";
        return status;
    }
}
