using System.Globalization;
using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Manifests;

/// <summary>
/// The sidecar's handover endpoint (its own port) makes the master hand over: only the kubelet's preStop hook,
/// from the node, may call it. No NetworkPolicy rule may admit it and no Service may expose it, in any overlay
/// or component (every component is switched on by some overlay: RenderTests).
/// </summary>
public class HandoverPortTests
{
    /// <summary>The handover port (the metrics and probes stay on HTTP_PORT, 9180).</summary>
    const int HandoverPort = 9181;

    public static TheoryData<string> Overlays => new(Repo.Overlays);

    [Theory, MemberData(nameof(Overlays))]
    public void NetworkPolicies_NeverAdmitTheHandoverPort(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var redis = r.RedisPod();
        // Not selected by any Ingress policy = every port open to everyone.
        Assert.Contains(r.All<V1NetworkPolicy>(), p => Workloads.Selects(p.Spec.PodSelector, redis.Labels) && (p.Spec.PolicyTypes?.Contains("Ingress") ?? true));

        var open = r.All<V1NetworkPolicy>()
            .SelectMany(p => (p.Spec.Ingress ?? []).Select(rule => (Policy: p, Rule: rule)))
            .Where(x => r.PodTemplates.Where(pod => Workloads.Selects(x.Policy.Spec.PodSelector, pod.Labels)).Any(pod => Admits(x.Rule, pod, HandoverPort)))
            .Select(x => $"NetworkPolicy {x.Policy.Metadata.Name} admits port {HandoverPort}");
        Assert.Empty(open);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Services_NeverExposeTheHandoverPort(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var exposing = r.All<V1Service>()
            .SelectMany(s => (s.Spec.Ports ?? []).Select(port => (Service: s, Port: port)))
            .Where(x => x.Port.Port == HandoverPort
                        || r.PodTemplates.Where(pod => Workloads.Selects(x.Service.Spec.Selector, pod.Labels))
                            .Any(pod => Resolves(x.Port.TargetPort?.Value ?? x.Port.Port.ToString(CultureInfo.InvariantCulture), pod) == HandoverPort))
            .Select(x => $"Service {x.Service.Metadata.Name} port {x.Port.Name ?? x.Port.Port.ToString(CultureInfo.InvariantCulture)} reaches {HandoverPort}");
        Assert.Empty(exposing);
    }

    /// <summary>True when an ingress rule lets traffic reach <paramref name="port"/> on <paramref name="pod"/>:
    /// no ports listed (all), a port without a number (all), the number, a range holding it, or a named container port.</summary>
    internal static bool Admits(V1NetworkPolicyIngressRule rule, PodTemplate pod, int port) =>
        rule.Ports is not { Count: > 0 }
        || rule.Ports.Any(p => p.Port is null
                               || Resolves(p.Port.Value, pod) is { } start && (start == port || p.EndPort is { } end && start <= port && port <= end));

    /// <summary>A port number, or a named port of one of the pod's containers, as a number (null when the pod has no such name).</summary>
    static int? Resolves(string port, PodTemplate pod) =>
        int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : pod.Containers().SelectMany(c => c.Container.Ports ?? []).FirstOrDefault(p => p.Name == port)?.ContainerPort;

    static PodTemplate PodWithPorts(params (string Name, int Number)[] ports) =>
        new("StatefulSet", "redis", new V1PodTemplateSpec
        {
            Spec = new V1PodSpec
            {
                Containers = [new V1Container { Name = "redis-sidecar", Ports = ports.Select(p => new V1ContainerPort { Name = p.Name, ContainerPort = p.Number }).ToList() }],
            },
        });

    static V1NetworkPolicyIngressRule Rule(params V1NetworkPolicyPort[] ports) => new() { Ports = ports.ToList() };

    [Fact]
    public void Admits_RulesThatOpenThePort_AreFound()
    {
        var pod = PodWithPorts(("http", 9180), ("handover", 9181));

        Assert.True(Admits(new V1NetworkPolicyIngressRule(), pod, 9181)); // no ports: every port
        Assert.True(Admits(Rule(new V1NetworkPolicyPort { Protocol = "TCP" }), pod, 9181)); // no port number: every port
        Assert.True(Admits(Rule(new V1NetworkPolicyPort { Port = "9181" }), pod, 9181));
        Assert.True(Admits(Rule(new V1NetworkPolicyPort { Port = "9100", EndPort = 9200 }), pod, 9181));
        Assert.True(Admits(Rule(new V1NetworkPolicyPort { Port = "9180" }, new V1NetworkPolicyPort { Port = "handover" }), pod, 9181));
    }

    [Fact]
    public void Admits_RulesForOtherPorts_AreNotFound()
    {
        var pod = PodWithPorts(("http", 9180), ("handover", 9181));

        Assert.False(Admits(Rule(new V1NetworkPolicyPort { Port = "9121" }, new V1NetworkPolicyPort { Port = "9180" }), pod, 9181));
        Assert.False(Admits(Rule(new V1NetworkPolicyPort { Port = "http" }), pod, 9181));
        Assert.False(Admits(Rule(new V1NetworkPolicyPort { Port = "9100", EndPort = 9180 }), pod, 9181));
        Assert.False(Admits(Rule(new V1NetworkPolicyPort { Port = "handover" }), PodWithPorts(("http", 9180)), 9181)); // a name this pod lacks
    }
}
