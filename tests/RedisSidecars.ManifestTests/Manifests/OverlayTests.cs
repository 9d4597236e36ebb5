using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>What each overlay and component adds, and the resources every overlay shares.</summary>
public class OverlayTests
{
    public static TheoryData<string> Overlays => new(Repo.Overlays);

    static IEnumerable<string> Keys(IDictionary<string, ResourceQuantity>? d) => d?.Keys ?? [];

    [Fact]
    public void Prod_RequiresOnePodPerNode()
    {
        var r = Kustomize.Overlay("prod");
        foreach (var pod in new[] { r.RedisPod(), r.SentinelPod() })
        {
            var anti = pod.Spec.Affinity?.PodAntiAffinity;
            var term = Assert.Single(anti?.RequiredDuringSchedulingIgnoredDuringExecution ?? []);
            Assert.Equal("kubernetes.io/hostname", term.TopologyKey);
            Assert.True(Workloads.Selects(term.LabelSelector, pod.Labels), $"{pod}: anti-affinity does not select its own pods");
            Assert.True(anti!.PreferredDuringSchedulingIgnoredDuringExecution is null or { Count: 0 });
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void AntiAffinity_SpreadsEveryStatefulSet(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var pod in new[] { r.RedisPod(), r.SentinelPod() })
        {
            var anti = pod.Spec.Affinity?.PodAntiAffinity;
            var terms = (anti?.RequiredDuringSchedulingIgnoredDuringExecution ?? [])
                .Concat((anti?.PreferredDuringSchedulingIgnoredDuringExecution ?? []).Select(w => w.PodAffinityTerm)).ToArray();
            Assert.Contains(terms, t => t.TopologyKey == "kubernetes.io/hostname" && Workloads.Selects(t.LabelSelector, pod.Labels));
        }
    }

    [Fact]
    public void Prod_HasLargerVolumesAndResourcesThanDev()
    {
        var dev = Kustomize.Overlay("dev");
        var prod = Kustomize.Overlay("prod");
        ResourceQuantity Storage(RenderedOverlay r) => r.StatefulSet("redis").Spec.VolumeClaimTemplates.Single().Spec.Resources.Requests["storage"];
        ResourceQuantity Memory(RenderedOverlay r) => r.RedisPod().Container("redis").Resources.Limits["memory"];

        Assert.True(Storage(prod).ToDecimal() > Storage(dev).ToDecimal());
        Assert.True(Memory(prod).ToDecimal() > Memory(dev).ToDecimal());
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Resources_EveryContainerHasRequestsAndAMemoryLimit(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var (pod, c, _) in r.AllContainers())
        {
            Assert.Contains("memory", Keys(c.Resources?.Requests));
            Assert.Contains("cpu", Keys(c.Resources?.Requests));
            Assert.Contains("memory", Keys(c.Resources?.Limits));
        }
    }

    [Fact]
    public void Prod_WiresTlsIntoEveryRedisSpeakingContainer()
    {
        var r = Kustomize.Overlay("prod");
        var certificate = Assert.Single(r.Custom("Certificate"));
        var secretName = certificate.String("spec", "secretName");
        Assert.False(string.IsNullOrEmpty(secretName));

        foreach (var pod in new[] { r.RedisPod(), r.SentinelPod(), r.VerifyPod() })
            foreach (var c in pod.Containers().Select(x => x.Container).Where(c => Contract.IsOurImage(c.Image)))
            {
                Assert.Equal("true", r.Setting(c, "TLS_ENABLED"));
                foreach (var setting in new[] { "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE" })
                {
                    var path = r.Setting(c, setting) ?? throw new Xunit.Sdk.XunitException($"{pod}/{c.Name}: {setting} not set");
                    var (volume, _, rel) = r.Resolve(pod, c, path) ?? throw new Xunit.Sdk.XunitException($"{pod}/{c.Name}: {setting}={path} is not mounted");
                    Assert.Equal(secretName, volume.Secret?.SecretName);
                    Assert.Contains(rel, r.FilesIn(volume));
                }
            }

        // Servers read the same files (redis-init writes tls-*-file with these paths); probes and the exporter speak TLS.
        var ca = r.Setting(r.SidecarContainer(), "TLS_CA_FILE")!;
        foreach (var (pod, name) in new[] { (r.RedisPod(), "redis"), (r.SentinelPod(), "sentinel"), (r.RedisPod(), "redis-exporter") })
            Assert.Equal(secretName, r.Resolve(pod, pod.Container(name), ca)?.Volume.Secret?.SecretName);
        foreach (var (pod, name) in new[] { (r.RedisPod(), "redis"), (r.SentinelPod(), "sentinel") })
        {
            var c = pod.Container(name);
            foreach (var probe in new[] { c.ReadinessProbe, c.LivenessProbe })
                Assert.Contains($"--tls --cacert {ca}", string.Join(' ', probe.Exec.Command));
        }
        Assert.StartsWith("rediss://", r.Env(r.RedisPod().Container("redis-exporter"))["REDIS_ADDR"].Value, StringComparison.Ordinal);
    }

    [Fact]
    public void Prod_CertificateCoversEveryAnnouncedHost()
    {
        var r = Kustomize.Overlay("prod");
        var cert = r.Custom("Certificate").Single();
        var names = cert.List("spec", "dnsNames").Cast<string>().ToArray();
        var ns = r.All<V1Namespace>().Single().Metadata.Name;
        Assert.Contains("127.0.0.1", cert.List("spec", "ipAddresses").Cast<string>()); // sidecar and exporter use loopback
        Assert.False(string.IsNullOrEmpty(cert.String("spec", "issuerRef", "name")));

        foreach (var sts in r.All<V1StatefulSet>())
            for (var i = 0; i < sts.Spec.Replicas; i++)
            {
                var host = $"{sts.Metadata.Name}-{i}.{sts.Spec.ServiceName}.{ns}.svc.cluster.local";
                Assert.True(names.Any(n => n == host || n.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(n[1..], StringComparison.Ordinal) && !host[..^(n.Length - 1)].Contains('.')),
                    $"the certificate does not cover {host}");
            }
        foreach (var svc in new[] { "redis-master", "sentinel" })
            Assert.Contains($"{svc}.{ns}.svc.cluster.local", names);
    }

    [Fact]
    public void Valkey_RunsValkeyWithSeed002Labels()
    {
        var r = Kustomize.Overlay("valkey");
        var view = r.Sidecar(r.SidecarContainer());

        Assert.Equal("valkey-master", view.LabelName);
        Assert.Equal("true", view.MasterValue);
        foreach (var (pod, name, binary) in new[] { (r.RedisPod(), "redis", "valkey-server"), (r.SentinelPod(), "sentinel", "valkey-sentinel") })
        {
            var c = pod.Container(name);
            Assert.Equal("valkey/valkey", Contract.Repository(c.Image));
            Assert.Equal(binary, c.Command[0]);
            foreach (var probe in new[] { c.ReadinessProbe, c.LivenessProbe })
                Assert.Contains("valkey-cli", string.Join(' ', probe.Exec.Command));
        }
        Assert.DoesNotContain(r.All<V1Service>(), s => s.Spec.Selector?.ContainsKey(Core.Settings.SidecarDefaults.MasterLabelName) == true);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Probes_UseTheMountedPasswordAndTheServersPort(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var (pod, name, port, setting) in new[] { (r.RedisPod(), "redis", 6379, "REDIS_PASSWORD_FILE"), (r.SentinelPod(), "sentinel", 26379, "SENTINEL_PASSWORD_FILE") })
        {
            var c = pod.Container(name);
            var passwordFile = r.Setting(pod.Running("redis-init"), setting)!;
            Assert.Contains(c.Ports, p => p.ContainerPort == port);
            Assert.NotNull(r.Resolve(pod, c, passwordFile));
            foreach (var probe in new[] { c.ReadinessProbe, c.LivenessProbe })
            {
                var script = string.Join(' ', probe?.Exec?.Command ?? []);
                Assert.Contains($"-p {port} ping", script);
                Assert.Contains($"$(cat {passwordFile})", script);
                Assert.Contains("grep -", script); // an error reply (NOAUTH, LOADING on readiness) exits 0 from the cli
                Assert.DoesNotContain(" -a ", script); // no password on the command line
            }
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Services_TargetPortsExistOnTheSelectedPods(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var view = r.Sidecar(r.SidecarContainer());
        foreach (var svc in r.All<V1Service>())
        {
            // The role label is set at run time by the sidecar; match the pods without it.
            var selector = svc.Spec.Selector.Where(kv => kv.Key != view.LabelName).ToDictionary();
            var pods = r.PodTemplates.Where(p => Workloads.Selects(selector, p.Labels)).ToArray();
            Assert.True(pods.Length > 0, $"Service {svc.Metadata.Name} selects no pods");
            foreach (var port in svc.Spec.Ports)
                foreach (var pod in pods)
                {
                    var ports = pod.Containers().SelectMany(c => c.Container.Ports ?? []).ToArray();
                    var target = port.TargetPort?.Value ?? port.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    Assert.True(ports.Any(p => p.Name == target || p.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == target),
                        $"Service {svc.Metadata.Name} port {port.Name} targets {target}, which {pod} does not expose");
                }
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Pdb_AllowsOneDisruptionPerStatefulSet(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        foreach (var pod in new[] { r.RedisPod(), r.SentinelPod() })
        {
            var pdb = Assert.Single(r.All<V1PodDisruptionBudget>(), p => Workloads.Selects(p.Spec.Selector, pod.Labels));
            Assert.Equal("1", pdb.Spec.MaxUnavailable?.Value);
            Assert.Null(pdb.Spec.MinAvailable);
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void NetworkPolicy_AdmitsPeersAndTheVerifyJobOnlyOnServerPorts(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var clients = new[] { r.RedisPod(), r.SentinelPod(), r.VerifyPod() };
        foreach (var (pod, port) in new[] { (r.RedisPod(), 6379), (r.SentinelPod(), 26379) })
        {
            var policies = r.All<V1NetworkPolicy>().Where(p => Workloads.Selects(p.Spec.PodSelector, pod.Labels)).ToArray();
            Assert.NotEmpty(policies);
            foreach (var p in policies) Assert.Equal(["Ingress"], p.Spec.PolicyTypes);
            var rules = policies.SelectMany(p => p.Spec.Ingress ?? []).ToArray();
            Assert.All(rules, rule => Assert.NotEmpty(rule.Ports ?? [])); // nothing opens every port
            foreach (var client in clients)
                Assert.True(rules.Any(rule => rule.Ports.Any(p => p.Port.Value == port.ToString(System.Globalization.CultureInfo.InvariantCulture))
                                              && (rule.FromProperty ?? []).Any(f => f.NamespaceSelector is null && f.IpBlock is null && Workloads.Selects(f.PodSelector, client.Labels))),
                    $"{client} cannot reach {pod} on {port}");
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void VerifyJob_IsAnArgoPostSyncHookRunningVerify(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var pod = r.VerifyPod();
        var job = r.One<V1Job>(pod.OwnerName);
        var c = pod.Running("redis-sidecar");

        Assert.Equal("PostSync", job.Metadata.Annotations["argocd.argoproj.io/hook"]);
        Assert.Equal("BeforeHookCreation", job.Metadata.Annotations["argocd.argoproj.io/hook-delete-policy"]);
        Assert.Equal(["verify"], c.Args);
        Assert.Equal("Never", pod.Spec.RestartPolicy);
        Assert.True(job.Spec.BackoffLimit > 0, "verify retries while the StatefulSets come up");
        // The Sentinel Service it asks exists and serves the Sentinel pods.
        var svc = r.Service(r.Setting(c, "REDIS_SENTINEL_HOST")!);
        Assert.True(Workloads.Selects(svc.Spec.Selector, r.SentinelPod().Labels));
        Assert.Contains(svc.Spec.Ports, p => p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) == r.Setting(c, "REDIS_SENTINEL_PORT"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Metrics_ServiceMonitorsScrapeTheExporterAndTheSidecar(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var monitors = r.Custom("ServiceMonitor").ToArray();
        var exporter = r.RedisPod().Containers().Select(x => x.Container).SingleOrDefault(c => Contract.Repository(c.Image) == "oliver006/redis_exporter");
        Assert.Equal(monitors.Length > 0, exporter is not null); // the metrics component adds both or neither
        if (exporter is null) return;

        var view = r.Sidecar(r.SidecarContainer());
        var scraped = new List<int>();
        foreach (var m in monitors)
        {
            var svc = Assert.Single(r.All<V1Service>(), s => Workloads.Selects(m.StringMap("spec", "selector", "matchLabels").ToDictionary(), s.Metadata.Labels));
            Assert.True(svc.Spec.PublishNotReadyAddresses, "unready pods' metrics matter most");
            foreach (var endpoint in m.List("spec", "endpoints").Cast<Dictionary<object, object>>())
            {
                var portName = (string)endpoint["port"];
                var port = Assert.Single(svc.Spec.Ports, p => p.Name == portName);
                Assert.Equal("/metrics", (string)endpoint["path"]);
                var target = r.RedisPod().Containers().SelectMany(c => c.Container.Ports ?? []).Single(p => p.Name == port.TargetPort.Value || p.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == port.TargetPort.Value);
                scraped.Add(target.ContainerPort);
            }
        }
        Assert.Contains(view.HttpPort, scraped);
        Assert.Contains(exporter.Ports.Single().ContainerPort, scraped);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void External_LoadBalancerHasAFixedAddressAndAnAdmittingPolicy(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var lb = r.All<V1Service>().Where(s => s.Spec.Type == "LoadBalancer").ToArray();
        if (lb.Length == 0) return; // the external component is off in this overlay

        var svc = Assert.Single(lb);
        Assert.True(System.Net.IPAddress.TryParse(svc.Spec.LoadBalancerIP, out _), "a fixed address");
        Assert.Equal("Local", svc.Spec.ExternalTrafficPolicy); // keeps the client address for the ipBlock below
        var pod = r.RedisPod();
        Assert.Contains(r.All<V1NetworkPolicy>().Where(p => Workloads.Selects(p.Spec.PodSelector, pod.Labels)).SelectMany(p => p.Spec.Ingress),
            rule => rule.FromProperty.Any(f => f.IpBlock is not null) && rule.Ports.All(p => p.Port.Value == "6379"));
    }
}
