using System.Globalization;
using k8s.Models;
using RedisSidecars.Core.Settings;
using Xunit.Sdk;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>The sidecar settings a redis-sidecar container runs with: its env, else the code's defaults.</summary>
public sealed record SidecarView(string LabelName, string MasterValue, string? ReplicaValue, string ConditionType, int HttpPort, int HandoverPort, int HandoverTimeoutMs);

/// <summary>Finding the parts of the rendered manifests the tests talk about.</summary>
public static class Workloads
{
    public static IEnumerable<(V1Container Container, bool IsInit)> Containers(this PodTemplate pod) =>
        (pod.Spec.InitContainers ?? []).Select(c => (c, true)).Concat((pod.Spec.Containers ?? []).Select(c => (c, false)));

    public static IEnumerable<(PodTemplate Pod, V1Container Container, bool IsInit)> AllContainers(this RenderedOverlay r) =>
        r.PodTemplates.SelectMany(p => p.Containers().Select(c => (p, c.Container, c.IsInit)));

    /// <summary>The single container of <paramref name="pod"/> running <paramref name="program"/> (redis-init / redis-sidecar).</summary>
    public static V1Container Running(this PodTemplate pod, string program) =>
        pod.Containers().Select(c => c.Container).Where(c => Contract.Program(c.Image) == program).ToArray() switch
        {
            [var one] => one,
            var many => throw new XunitException($"{pod}: expected one {program} container, found {many.Length}"),
        };

    public static V1Container Container(this PodTemplate pod, string name) =>
        pod.Containers().Select(c => c.Container).SingleOrDefault(c => c.Name == name) ?? throw new XunitException($"{pod}: no container '{name}'");

    /// <summary>The redis-server / redis-sentinel container: the pod's first main container (not ours, not an exporter).</summary>
    public static V1Container Server(this PodTemplate pod, string name) => pod.Container(name);

    public static SidecarView Sidecar(this RenderedOverlay r, V1Container c)
    {
        string Get(string name, string fallback) => r.Setting(c, name) ?? fallback;
        int Int(string name, int fallback) => r.Setting(c, name) is { } s
            ? int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture)
            : fallback;
        var replica = r.Setting(c, "REPLICA_POD_LABEL_VALUE");
        return new SidecarView(
            Get("MASTER_POD_LABEL_NAME", SidecarDefaults.MasterLabelName),
            Get("MASTER_POD_LABEL_VALUE", SidecarDefaults.MasterLabelValue),
            replica is null ? SidecarDefaults.ReplicaLabelValue : replica.Length == 0 ? null : replica,
            Get("READINESS_CONDITION_TYPE", SidecarDefaults.ReadinessConditionType),
            Int("HTTP_PORT", SidecarDefaults.HttpPort),
            Int("HANDOVER_PORT", SidecarDefaults.HandoverPort),
            Int("HANDOVER_TIMEOUT_MS", SidecarDefaults.HandoverTimeoutMs));
    }

    /// <summary>The Redis StatefulSet: the one whose pods run a redis-sidecar.</summary>
    public static PodTemplate RedisPod(this RenderedOverlay r) =>
        r.PodTemplates.Where(p => p.OwnerKind == "StatefulSet" && p.Containers().Any(c => Contract.Program(c.Container.Image) == "redis-sidecar")).ToArray() switch
        {
            [var one] => one,
            var many => throw new XunitException($"{r.Name}: expected one StatefulSet with a redis-sidecar, found {many.Length}"),
        };

    /// <summary>The Sentinel StatefulSet: the one whose redis-init runs in `sentinel` mode.</summary>
    public static PodTemplate SentinelPod(this RenderedOverlay r) =>
        r.PodTemplates.Where(p => p.OwnerKind == "StatefulSet" && p.Containers().Any(c => Contract.Program(c.Container.Image) == "redis-init" && c.Container.Args?.FirstOrDefault() == "sentinel")).ToArray() switch
        {
            [var one] => one,
            var many => throw new XunitException($"{r.Name}: expected one StatefulSet running redis-init sentinel, found {many.Length}"),
        };

    public static PodTemplate VerifyPod(this RenderedOverlay r) =>
        r.PodTemplates.Single(p => p.OwnerKind == "Job" && p.Containers().Any(c => Contract.Program(c.Container.Image) == "redis-sidecar" && c.Container.Args?.FirstOrDefault() == "verify"));

    /// <summary>The redis-sidecar container in the Redis pods.</summary>
    public static V1Container SidecarContainer(this RenderedOverlay r) => r.RedisPod().Running("redis-sidecar");

    /// <summary>Value after <paramref name="flag"/> in an argument list.</summary>
    public static string? Arg(this IList<string>? args, string flag)
    {
        if (args is null) return null;
        var i = args.IndexOf(flag);
        return i >= 0 && i + 1 < args.Count ? args[i + 1] : null;
    }

    /// <summary>True when every label of <paramref name="selector"/> is on <paramref name="labels"/>.</summary>
    public static bool Selects(IDictionary<string, string>? selector, IDictionary<string, string> labels) =>
        selector is { Count: > 0 } && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    public static bool Selects(V1LabelSelector? selector, IDictionary<string, string> labels)
    {
        if (selector is null) return false;
        if (selector.MatchLabels is { } ml && !ml.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value)) return false;
        foreach (var e in selector.MatchExpressions ?? [])
        {
            var has = labels.TryGetValue(e.Key, out var v);
            var ok = e.OperatorProperty switch
            {
                "In" => has && e.Values.Contains(v!),
                "NotIn" => !has || !e.Values.Contains(v!),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => throw new XunitException($"unknown selector operator {e.OperatorProperty}"),
            };
            if (!ok) return false;
        }
        return true;
    }
}
