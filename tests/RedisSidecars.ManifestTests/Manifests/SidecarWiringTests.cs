using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>How the Redis pods are wired to redis-init and redis-sidecar, against the sidecar's settings and defaults.</summary>
public class SidecarWiringTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    /// <summary>Margin over the handover bound for Redis' own shutdown (final AOF fsync) and the sidecar's exit.</summary>
    const int ShutdownMarginSeconds = 15;

    [Theory, MemberData(nameof(Overlays))]
    public void MasterServices_Select_TheSidecarsMasterLabel(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var podLabels = r.RedisPod().Labels;
        // Every Service that routes by role: redis-master (always), redis-external (component).
        var masterServices = r.All<V1Service>().Where(s => s.Metadata.Name is "redis-master" or "redis-external").ToArray();
        Assert.Contains(masterServices, s => s.Metadata.Name == "redis-master");

        foreach (var svc in masterServices)
        {
            var selector = svc.Spec.Selector;
            Assert.True(selector.TryGetValue(view.LabelName, out var value), $"{svc.Metadata.Name} does not select on {view.LabelName} (selector: {Show(selector)})");
            Assert.Equal(view.MasterValue, value);
            // Apart from the role label, it selects exactly the Redis pods.
            var rest = selector.Where(kv => kv.Key != view.LabelName).ToDictionary();
            Assert.True(Workloads.Selects(rest, podLabels), $"{svc.Metadata.Name} does not select the Redis pods");
            Assert.False(podLabels.ContainsKey(view.LabelName), "the pod template must not carry the role label: only the sidecar sets it");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void ReplicaService_Selects_TheSidecarsReplicaLabel(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var svc = r.All<V1Service>().SingleOrDefault(s => s.Metadata.Name == "redis-replicas");

        if (view.ReplicaValue is null)
        {
            Assert.True(svc is null, "REPLICA_POD_LABEL_VALUE is empty (replicas are unlabelled), so no redis-replicas Service can select them");
            return;
        }
        Assert.NotNull(svc);
        Assert.True(svc.Spec.Selector.TryGetValue(view.LabelName, out var value), $"redis-replicas does not select on {view.LabelName}");
        Assert.Equal(view.ReplicaValue, value);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void ReadinessGate_Is_TheSidecarsConditionType(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var gates = r.RedisPod().Spec.ReadinessGates ?? [];

        Assert.Equal([view.ConditionType], gates.Select(g => g.ConditionType));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void PreStop_OnRedis_CallsTheSidecarsHandover(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var redis = r.RedisPod().Container("redis");

        var hook = redis.Lifecycle?.PreStop?.HttpGet;
        Assert.True(hook is not null, "the redis container needs an httpGet preStop hook calling the sidecar");
        Assert.Equal("/handover", hook.Path);
        Assert.Equal(view.HandoverPort.ToString(System.Globalization.CultureInfo.InvariantCulture), hook.Port.Value);
        Assert.Null(hook.Host); // the pod's own address: the sidecar's listener
        Assert.Contains(r.SidecarContainer().Ports, p => p.ContainerPort == view.HandoverPort);
        Assert.NotEqual(view.HttpPort, view.HandoverPort); // /handover never shares the scraped port
    }

    [Theory, MemberData(nameof(Overlays))]
    public void EveryPod_TurnsServiceLinksOff(string overlay)
    {
        // The kubelet injects <SERVICE>_PORT=tcp://ip:port (and more) for every Service in the namespace unless the
        // pod says otherwise; the Service `sentinel` alone would override SENTINEL_PORT in every container.
        var r = Kustomize.Overlay(overlay);
        foreach (var pod in r.PodTemplates)
            Assert.True(pod.Spec.EnableServiceLinks == false, $"{overlay} {pod}: spec.enableServiceLinks must be false");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Sidecar_ReadinessProbe_NeitherFlapsNorLags(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var probe = r.SidecarContainer().ReadinessProbe;

        Assert.Equal("/readyz", probe?.HttpGet?.Path);
        Assert.Equal(view.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), probe!.HttpGet.Port.Value);
        // Back in the master Service's endpoints within about one kubelet period of a promotion ...
        Assert.True((probe.PeriodSeconds ?? 10) * (probe.SuccessThreshold ?? 1) <= 1,
            $"periodSeconds×successThreshold = {(probe.PeriodSeconds ?? 10) * (probe.SuccessThreshold ?? 1)} s: a promoted master would wait that long for its endpoint");
        // ... and one slow answer on a busy node never takes a master out, while a demoted one leaves within seconds.
        Assert.InRange(probe.FailureThreshold ?? 3, 2, 3);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void GracePeriod_Exceeds_TheHandoverBound(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var grace = r.RedisPod().Spec.TerminationGracePeriodSeconds;

        Assert.NotNull(grace);
        Assert.True(grace > view.HandoverTimeoutMs / 1000 + ShutdownMarginSeconds,
            $"terminationGracePeriodSeconds={grace} must exceed HANDOVER_TIMEOUT_MS/1000 ({view.HandoverTimeoutMs / 1000}) + {ShutdownMarginSeconds}s");
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Sidecar_Is_ANativeSidecarStartedAfterTheConfig(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.RedisPod();
        var inits = pod.Spec.InitContainers.ToList();
        var sidecar = pod.Running("redis-sidecar");
        var init = pod.Running("redis-init");

        Assert.Contains(sidecar, inits);
        Assert.Equal("Always", sidecar.RestartPolicy);
        Assert.Equal(["run"], sidecar.Args);
        Assert.True(inits.IndexOf(init) < inits.IndexOf(sidecar), "redis-init must come before the sidecar");
        Assert.Null(init.RestartPolicy); // a plain init container: runs to completion
        foreach (var c in pod.Spec.Containers) Assert.NotEqual("Always", c.RestartPolicy);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Sidecar_Probes_UseItsHttpPort(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        var sidecar = r.SidecarContainer();
        var port = view.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // Startup: the Redis container starts only when /handover is there to be called.
        Assert.Equal("/livez", sidecar.StartupProbe?.HttpGet?.Path);
        Assert.Equal(port, sidecar.StartupProbe?.HttpGet?.Port.Value);
        Assert.Equal("/livez", sidecar.LivenessProbe?.HttpGet?.Path);
        Assert.Equal(port, sidecar.LivenessProbe?.HttpGet?.Port.Value);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void RedisInit_Writes_WhereTheServerReads(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var (pod, mode, server, file) in new[]
                 {
                     (r.RedisPod(), "redis", "redis", "redis.conf"),
                     (r.SentinelPod(), "sentinel", "sentinel", "sentinel.conf"),
                 })
        {
            var init = pod.Running("redis-init");
            var main = pod.Container(server);
            Assert.Equal(mode, init.Args[0]);

            // Output: a file in an emptyDir mounted writable in both containers (Sentinel and CONFIG REWRITE rewrite it).
            var output = init.Args.Arg("--output");
            Assert.True(output is not null, $"{pod}: redis-init has no --output");
            Assert.Equal(file, Path.GetFileName(output));
            var written = r.Resolve(pod, init, output) ?? throw new Xunit.Sdk.XunitException($"{pod}: {output} is not in a volume");
            var read = r.Resolve(pod, main, output) ?? throw new Xunit.Sdk.XunitException($"{pod}: {server} does not mount {output}");
            Assert.Equal(written.Volume.Name, read.Volume.Name);
            Assert.NotNull(written.Volume.EmptyDir);
            Assert.NotEqual(true, written.Mount.ReadOnlyProperty);
            Assert.NotEqual(true, read.Mount.ReadOnlyProperty);
            Assert.Equal(output, main.Command.Concat(main.Args ?? []).Last()); // redis-server / redis-sentinel <config file>

            // Template: a key of the ConfigMap mounted where --template points.
            var template = init.Args.Arg("--template") ?? throw new Xunit.Sdk.XunitException($"{pod}: redis-init has no --template");
            var t = r.Resolve(pod, init, template) ?? throw new Xunit.Sdk.XunitException($"{pod}: {template} is not in a volume");
            Assert.NotNull(t.Volume.ConfigMap);
            Assert.Contains(t.RelativePath, r.FilesIn(t.Volume));

            // The file is 0600: redis-init must run as the server's uid.
            Assert.Equal(main.SecurityContext.RunAsUser, init.SecurityContext.RunAsUser);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void RedisInit_SeesTheDataDirReadOnly(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.RedisPod();
        var init = pod.Running("redis-init");
        var dataDir = r.Setting(init, "DATA_DIR") ?? "/data";

        // The empty-restarted-master guard looks for an RDB/AOF in the data volume Redis writes.
        var seen = r.Resolve(pod, init, dataDir) ?? throw new Xunit.Sdk.XunitException($"redis-init does not mount DATA_DIR {dataDir}");
        var written = r.Resolve(pod, pod.Container("redis"), dataDir) ?? throw new Xunit.Sdk.XunitException($"redis does not mount {dataDir}");
        Assert.Equal(written.Volume.Name, seen.Volume.Name);
        Assert.True(seen.Mount.ReadOnlyProperty, "redis-init only reads the data volume");
        Assert.Contains(r.StatefulSet(pod.OwnerName).Spec.VolumeClaimTemplates, v => v.Metadata.Name == written.Mount.Name);
    }

    static string Show(IDictionary<string, string> d) => string.Join(", ", d.Select(kv => $"{kv.Key}={kv.Value}"));
}
