using System.Text;
using Microsoft.Extensions.Configuration;
using k8s.Models;
using RedisSidecars.Core.Settings;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>The environment the manifests give each container against what the programs read.</summary>
public class EnvContractTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    [Theory, MemberData(nameof(Overlays))]
    public void Env_EveryVariable_IsReadByTheProgramOrAPassThrough(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var problems = new List<string>();
        foreach (var (pod, c, _) in r.AllContainers())
        {
            var env = r.Env(c);
            if (Contract.IsOurImage(c.Image))
            {
                foreach (var name in env.Keys.Where(n => !Contract.SettingNames.Contains(n)))
                    problems.Add($"{pod}/{c.Name}: {name} is not read by {Contract.Program(c.Image)} (not a [ConfigurationKeyName] of RawOptions or SidecarRawOptions)");
            }
            else
            {
                var allowed = Contract.PassThrough.TryGetValue(Contract.Repository(c.Image), out var p) ? p : new Dictionary<string, string>();
                foreach (var name in env.Keys.Where(n => !allowed.ContainsKey(n)))
                    problems.Add($"{pod}/{c.Name} ({c.Image}): {name} is not a documented pass-through");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Env_PodIdentity_ComesFromTheDownwardApi(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var expected = new Dictionary<string, string>
        {
            ["POD_NAME"] = "fieldRef:metadata.name",
            ["POD_NAMESPACE"] = "fieldRef:metadata.namespace",
            ["POD_IP"] = "fieldRef:status.podIP",
        };
        foreach (var pod in new[] { r.RedisPod(), r.SentinelPod() })
            foreach (var c in pod.Containers().Select(x => x.Container).Where(c => Contract.IsOurImage(c.Image)))
                foreach (var (name, source) in expected)
                {
                    Assert.True(r.Env(c).TryGetValue(name, out var v), $"{pod}/{c.Name}: {name} is not set");
                    Assert.Equal(source, v.Source);
                }

        // verify runs in no StatefulSet pod, but must know its namespace to find the pods and the Sentinels.
        var verify = r.VerifyPod().Running("redis-sidecar");
        Assert.Equal("fieldRef:metadata.namespace", r.Env(verify)["POD_NAMESPACE"].Source);
    }

    public static TheoryData<string, string> OurContainers()
    {
        var data = new TheoryData<string, string>();
        foreach (var o in Repo.Overlays)
            foreach (var c in new[] { "redis/redis-init", "redis/redis-sidecar", "sentinel/redis-init", "verify/redis-sidecar" })
                data.Add(o, c);
        return data;
    }

    /// <summary>
    /// Runs the programs' own validator (SettingsValidator) on the settings each container gets, with the
    /// downward API filled in and *_FILE paths read from the volumes the container mounts. Any error it would
    /// print at start-up fails the test.
    /// </summary>
    [Theory, MemberData(nameof(OurContainers))]
    public void Env_Settings_PassTheProgramsValidator(string overlay, string which)
    {
        var r = Kustomize.Overlay(overlay);
        var (pod, mode) = which.Split('/')[0] switch
        {
            "redis" => (r.RedisPod(), NodeMode.Redis),
            "sentinel" => (r.SentinelPod(), NodeMode.Sentinel),
            _ => (r.VerifyPod(), NodeMode.Verify),
        };
        var c = pod.Running(which.Split('/')[1]);
        var sts = r.All<V1StatefulSet>().SingleOrDefault(s => s.Metadata.Name == pod.OwnerName);
        var ns = r.All<V1Namespace>().Single().Metadata.Name;

        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, v) in r.Env(c))
            env[name] = v.Source switch
            {
                "value" => v.Value,
                var s when s.StartsWith("configMap:", StringComparison.Ordinal) => v.Value,
                "fieldRef:metadata.name" => $"{sts?.Metadata.Name ?? "verify"}-{(sts?.Spec.Replicas ?? 1) - 1}",
                "fieldRef:metadata.namespace" => ns,
                "fieldRef:status.podIP" => "10.244.0.17",
                _ => throw new Xunit.Sdk.XunitException($"{pod}/{c.Name}: {name} comes from {v.Source}, which the test cannot fill in"),
            };

        // What the kubelet adds for every Service with a cluster IP, unless the pod turns service links off.
        foreach (var (name, value) in ServiceLinkVariables(r, pod))
            env.TryAdd(name, value);

        var configuration = SettingsLoader.TryBuild([], null, env, out _)!;
        var raw = SettingsLoader.BindRaw(configuration);
        var files = new MountedFiles(r, pod, c);
        var (settings, errors) = SettingsValidator.Validate(raw, mode, files);

        Assert.True(errors.Count == 0, $"{overlay} {which}: {SettingsValidator.OneLine(errors)}");
        Assert.NotNull(settings);
        Assert.Equal(ns, settings.Namespace);
        Assert.NotNull(settings.RedisPassword); // auth is on in every overlay
        Assert.NotNull(settings.SentinelPassword);

        if (Contract.Program(c.Image) != "redis-sidecar") return;
        var side = new SidecarRawOptions();
        configuration.Bind(side);
        var (sidecar, sidecarErrors) = SidecarSettingsValidator.Validate(raw, side, mode, files);
        Assert.True(sidecarErrors.Count == 0, $"{overlay} {which}: {SettingsValidator.OneLine(sidecarErrors)}");
        Assert.NotNull(sidecar);
        // What the tests compare the manifests against is what the sidecar itself resolves.
        var view = r.Sidecar(c);
        Assert.Equal((view.LabelName, view.MasterValue, view.ReplicaValue, view.ConditionType, view.HttpPort, view.HandoverPort, view.HandoverTimeoutMs),
            (sidecar.LabelName, sidecar.MasterLabelValue, sidecar.ReplicaLabelValue, sidecar.ReadinessConditionType, sidecar.HttpPort, sidecar.HandoverPort, (int)sidecar.HandoverTimeout.TotalMilliseconds));
        if (mode == NodeMode.Redis)
        {
            // The pods the sidecar patches by name are exactly the ones its Role names (its reads are a list + watch).
            var role = r.All<V1Role>().Single(x => x.Rules.Any(rule => rule.Resources.Contains("pods/status")));
            foreach (var rule in role.Rules.Where(rule => rule.Resources.Any(res => res.StartsWith("pods", StringComparison.Ordinal)) && rule.Verbs.Contains("patch")))
                Assert.Equal(sidecar.PodNames, rule.ResourceNames);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Env_NodeLists_MatchTheStatefulSetsAndHeadlessServices(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var c = r.SidecarContainer();
        var redis = r.StatefulSet(r.Setting(c, "REDIS_STATEFULSET") ?? r.RedisPod().OwnerName);
        var sentinel = r.StatefulSet(r.Setting(c, "SENTINEL_STATEFULSET") ?? "sentinel");

        Assert.Equal(r.RedisPod().OwnerName, redis.Metadata.Name);
        Assert.Equal(r.SentinelPod().OwnerName, sentinel.Metadata.Name);
        Assert.Equal((r.Setting(c, "REDIS_REPLICAS") ?? "3"), redis.Spec.Replicas.ToString());
        Assert.Equal((r.Setting(c, "SENTINEL_REPLICAS") ?? "3"), sentinel.Spec.Replicas.ToString());

        // The derived per-pod names are <pod>.<headless>.<ns>.svc.<domain>: the headless Services must be the
        // StatefulSets' serviceName, headless, and publish not-ready pods (peers resolve each other before Ready).
        foreach (var (sts, setting) in new[] { (redis, "REDIS_HEADLESS_SERVICE"), (sentinel, "SENTINEL_HEADLESS_SERVICE") })
        {
            var headless = r.Setting(c, setting) ?? $"{sts.Metadata.Name}-headless";
            Assert.Equal(headless, sts.Spec.ServiceName);
            var svc = r.Service(headless);
            Assert.Equal("None", svc.Spec.ClusterIP);
            Assert.True(svc.Spec.PublishNotReadyAddresses, $"{headless} must publish not-ready addresses");
            Assert.True(Workloads.Selects(svc.Spec.Selector, sts.Spec.Template.Metadata.Labels), $"{headless} does not select {sts.Metadata.Name}'s pods");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Env_SidecarSettings_AreTheSameInTheSidecarAndTheVerifyJob(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        Assert.Equal(r.Sidecar(r.SidecarContainer()) with { HttpPort = 0 }, r.Sidecar(r.VerifyPod().Running("redis-sidecar")) with { HttpPort = 0 });
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Env_Secrets_AreReadFromFilesNotEnv(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var (pod, c, _) in r.AllContainers().Where(x => Contract.IsOurImage(x.Container.Image)))
            foreach (var name in new[] { "REDIS_PASSWORD", "SENTINEL_PASSWORD" })
            {
                Assert.False(r.Env(c).ContainsKey(name), $"{pod}/{c.Name}: set {name}_FILE (a mounted Secret), not {name}");
                Assert.True(r.Env(c).ContainsKey(name + "_FILE"), $"{pod}/{c.Name}: {name}_FILE is not set");
            }
    }

    /// <summary>
    /// The service-link variables the kubelet gives every container of <paramref name="pod"/> (names it declares
    /// itself win): for each Service with a cluster IP in the namespace, <c>&lt;NAME&gt;_SERVICE_HOST</c>,
    /// <c>&lt;NAME&gt;_SERVICE_PORT[_&lt;PORTNAME&gt;]</c>, <c>&lt;NAME&gt;_PORT=tcp://ip:port</c> and
    /// <c>&lt;NAME&gt;_PORT_&lt;port&gt;_&lt;PROTO&gt;[_PROTO|_PORT|_ADDR]</c>; none when <c>enableServiceLinks: false</c>.
    /// A Service named <c>sentinel</c> would otherwise set SENTINEL_PORT=tcp://….
    /// </summary>
    static IEnumerable<(string Name, string Value)> ServiceLinkVariables(RenderedOverlay r, PodTemplate pod)
    {
        if (pod.Spec.EnableServiceLinks == false) yield break;
        var i = 0;
        foreach (var svc in r.All<V1Service>().Where(s => s.Spec.ClusterIP != "None" && s.Spec.Type != "ExternalName"))
        {
            var ip = $"10.96.0.{++i}";
            var name = svc.Metadata.Name.ToUpperInvariant().Replace('-', '_');
            var first = svc.Spec.Ports[0];
            yield return ($"{name}_SERVICE_HOST", ip);
            yield return ($"{name}_SERVICE_PORT", first.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            yield return ($"{name}_PORT", $"{(first.Protocol ?? "TCP").ToLowerInvariant()}://{ip}:{first.Port}");
            foreach (var p in svc.Spec.Ports)
            {
                var proto = p.Protocol ?? "TCP";
                var prefix = $"{name}_PORT_{p.Port}_{proto}";
                if (p.Name is { } portName) yield return ($"{name}_SERVICE_PORT_{portName.ToUpperInvariant().Replace('-', '_')}", p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                yield return (prefix, $"{proto.ToLowerInvariant()}://{ip}:{p.Port}");
                yield return ($"{prefix}_PROTO", proto.ToLowerInvariant());
                yield return ($"{prefix}_PORT", p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                yield return ($"{prefix}_ADDR", ip);
            }
        }
    }

    /// <summary>The files a container sees: paths under its Secret/ConfigMap mounts, with the rendered content.</summary>
    sealed class MountedFiles(RenderedOverlay r, PodTemplate pod, V1Container c) : ISettingsFiles
    {
        public PathKind KindOf(string path) => Content(path) is not null ? PathKind.File : PathKind.Missing;

        public string ReadAllText(string path) => Content(path) ?? throw new FileNotFoundException($"{path} is not in any volume {c.Name} mounts", path);

        string? Content(string path)
        {
            if (r.Resolve(pod, c, path) is not var (volume, _, rel)) return null;
            if (!r.FilesIn(volume).Contains(rel)) return null;
            if (volume.Secret is { } s)
            {
                var key = s.Items?.SingleOrDefault(i => i.Path == rel)?.Key ?? rel;
                var secret = r.All<V1Secret>().SingleOrDefault(x => x.Metadata.Name == s.SecretName);
                return secret is null ? "-----BEGIN CERTIFICATE-----" : Encoding.UTF8.GetString(secret.Data[key]);
            }
            var cm = volume.ConfigMap!;
            return r.ConfigMap(cm.Name).Data[cm.Items?.SingleOrDefault(i => i.Path == rel)?.Key ?? rel];
        }
    }
}
