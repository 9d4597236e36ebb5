using k8s;
using k8s.Models;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.E2E.Deploy;

/// <summary>A container that speaks the Redis protocol, and how to reach it with its own CLI from inside its pod.</summary>
public sealed record ServerContainer(string Name, string Image, string Cli, int Port, string PasswordFile);

/// <summary>
/// Everything the suite needs to know about a rendered overlay, read from kustomize's output and never hard-coded:
/// names, the role label, ports, password file paths, the CLI, the client label the NetworkPolicies admit, the
/// application Secret and the verify Job. A rendering this suite cannot drive is rejected with one line naming why.
/// </summary>
public sealed class DeployedSet
{
    public required string Namespace { get; init; }
    public required string RedisStatefulSet { get; init; }
    public required int RedisReplicas { get; init; }
    public required string SentinelStatefulSet { get; init; }
    public required int SentinelReplicas { get; init; }
    /// <summary>The labels that select the Redis pods (the StatefulSet's selector).</summary>
    public required IReadOnlyDictionary<string, string> RedisSelector { get; init; }
    public required IReadOnlyDictionary<string, string> SentinelSelector { get; init; }
    public required string LabelName { get; init; }
    public required string MasterValue { get; init; }
    public required string MasterSetName { get; init; }
    public required string MasterService { get; init; }
    public required int MasterServicePort { get; init; }
    public required ServerContainer Redis { get; init; }
    public required ServerContainer Sentinel { get; init; }
    public required string InitImage { get; init; }
    public required string SidecarImage { get; init; }
    /// <summary>The application user's Secret (generated name, with kustomize's hash suffix) and its keys.</summary>
    public required string AppSecret { get; init; }
    public const string AppUserKey = "username", AppPasswordKey = "password";
    /// <summary>The pod label the NetworkPolicies admit clients with; null when no policy restricts the Redis pods.</summary>
    public required KeyValuePair<string, string>? ClientLabel { get; init; }
    public required V1Job VerifyJob { get; init; }

    /// <summary>Label selector (a=b,c=d) for the pods labelled master.</summary>
    public string MasterSelector => string.Join(",", RedisSelector.Select(kv => $"{kv.Key}={kv.Value}").Append($"{LabelName}={MasterValue}"));
    public string RedisPodSelector => Selector(RedisSelector);
    public string SentinelPodSelector => Selector(SentinelSelector);
    static string Selector(IReadOnlyDictionary<string, string> labels) => string.Join(",", labels.Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>
    /// Every object of a rendering: the built-in kinds typed, every other kind (ServiceMonitor, PrometheusRule,
    /// Certificate, whatever a component adds) as a plain dictionary, so a new component never breaks the reading.
    /// </summary>
    public static IReadOnlyList<object> Load(string yaml) =>
        KubernetesYaml.LoadAllFromString(yaml, CustomKinds(yaml), strict: false);

    /// <summary>The kinds of API groups outside Kubernetes' own (a dot in the group, not *.k8s.io) found at the top of a document.</summary>
    static Dictionary<string, Type> CustomKinds(string yaml)
    {
        var kinds = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var doc in System.Text.RegularExpressions.Regex.Split(yaml, @"^---\s*$", System.Text.RegularExpressions.RegexOptions.Multiline))
        {
            var apiVersion = System.Text.RegularExpressions.Regex.Match(doc, @"^apiVersion:\s*(\S+)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value;
            var kind = System.Text.RegularExpressions.Regex.Match(doc, @"^kind:\s*(\S+)\s*$", System.Text.RegularExpressions.RegexOptions.Multiline).Groups[1].Value;
            var group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
            if (kind.Length > 0 && group.Contains('.', StringComparison.Ordinal) && !group.EndsWith("k8s.io", StringComparison.Ordinal))
                kinds[$"{apiVersion}/{kind}"] = typeof(Dictionary<object, object>);
        }
        return kinds;
    }

    /// <summary>Reads a rendering; throws <see cref="InvalidOperationException"/> with one line naming what is missing.</summary>
    public static DeployedSet From(string yaml)
    {
        var objects = Load(yaml);
        var statefulSets = objects.OfType<V1StatefulSet>().ToArray();
        var configMaps = objects.OfType<V1ConfigMap>().ToDictionary(c => c.Metadata.Name, StringComparer.Ordinal);

        var ns = objects.OfType<V1Namespace>().ToArray() switch
        {
            [var one] => one.Metadata.Name,
            var many => throw Problem($"expected one Namespace in the rendering, found {many.Length}"),
        };
        var redis = Single(statefulSets, s => AllContainers(s.Spec.Template.Spec).Any(c => ProgramOf(c) == ("redis-sidecar", "run")),
            "a StatefulSet running redis-sidecar run");
        var sentinel = Single(statefulSets, s => AllContainers(s.Spec.Template.Spec).Any(c => ProgramOf(c) == ("redis-init", "sentinel")),
            "a StatefulSet running redis-init sentinel");
        var sidecar = AllContainers(redis.Spec.Template.Spec).Single(c => ProgramOf(c) == ("redis-sidecar", "run"));
        var settings = Env(sidecar, configMaps);
        string? Setting(string name) => settings.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : null;
        if (string.Equals(Setting("TLS_ENABLED"), "true", StringComparison.OrdinalIgnoreCase))
            throw Problem("TLS_ENABLED=true: the suite's clients speak plain TCP; run it with an overlay without TLS (dev, staging, valkey)");

        var labelName = Setting("MASTER_POD_LABEL_NAME") ?? SidecarDefaults.MasterLabelName;
        var masterValue = Setting("MASTER_POD_LABEL_VALUE") ?? SidecarDefaults.MasterLabelValue;
        Dictionary<string, string> SelectorOf(V1StatefulSet s) =>
            s.Spec.Selector?.MatchLabels is { Count: > 0 } ml && s.Spec.Selector.MatchExpressions is null or { Count: 0 }
                ? new Dictionary<string, string>(ml)
                : throw Problem($"StatefulSet {s.Metadata.Name}: expected a selector of matchLabels only");
        var selector = SelectorOf(redis);

        var masterService = Single(objects.OfType<V1Service>().ToArray(),
            s => s.Spec.Selector is { } sel && sel.TryGetValue(labelName, out var v) && v == masterValue
                 && sel.Where(kv => kv.Key != labelName).All(kv => redis.Spec.Template.Metadata.Labels.TryGetValue(kv.Key, out var pv) && pv == kv.Value),
            $"a Service selecting the Redis pods labelled {labelName}={masterValue}");
        var servicePort = masterService.Spec.Ports.Count == 1 ? masterService.Spec.Ports[0] : throw Problem($"Service {masterService.Metadata.Name} has {masterService.Spec.Ports.Count} ports, expected one");

        var redisPasswordFile = Setting("REDIS_PASSWORD_FILE") ?? throw Problem("REDIS_PASSWORD_FILE is not set for redis-sidecar: the suite reads the admin password from that file inside the pods");
        var sentinelPasswordFile = Setting("SENTINEL_PASSWORD_FILE") ?? throw Problem("SENTINEL_PASSWORD_FILE is not set: the suite reads the Sentinel password from that file inside the pods");
        var redisServer = Server(redis, servicePort.TargetPort?.Value ?? servicePort.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), redisPasswordFile);
        var sentinelServer = Server(sentinel, null, sentinelPasswordFile);

        var appSecret = Single(objects.OfType<V1Secret>().ToArray(), s => IsGenerated(s.Metadata.Name, "redis-app"), "the application Secret redis-app");
        foreach (var key in new[] { AppUserKey, AppPasswordKey })
            if (!(appSecret.Data?.ContainsKey(key) ?? false) && !(appSecret.StringData?.ContainsKey(key) ?? false))
                throw Problem($"Secret {appSecret.Metadata.Name} has no key '{key}'");

        var verify = Single(objects.OfType<V1Job>().ToArray(), j => AllContainers(j.Spec.Template.Spec).Any(c => ProgramOf(c).Program == "redis-sidecar" && c.Args?.FirstOrDefault() == "verify"),
            "a Job running redis-sidecar verify");
        var allTemplates = statefulSets.Select(s => s.Spec.Template.Metadata.Labels).Concat(objects.OfType<V1Job>().Select(j => j.Spec.Template.Metadata.Labels)).ToArray();

        return new DeployedSet
        {
            Namespace = ns,
            RedisStatefulSet = redis.Metadata.Name,
            RedisReplicas = redis.Spec.Replicas ?? 1,
            SentinelStatefulSet = sentinel.Metadata.Name,
            SentinelReplicas = sentinel.Spec.Replicas ?? 1,
            RedisSelector = selector,
            SentinelSelector = SelectorOf(sentinel),
            LabelName = labelName,
            MasterValue = masterValue,
            MasterSetName = Setting("MASTER_SET_NAME") ?? "mymaster", // the programs' default (SettingsValidator)
            MasterService = masterService.Metadata.Name,
            MasterServicePort = servicePort.Port,
            Redis = redisServer,
            Sentinel = sentinelServer,
            InitImage = AllContainers(redis.Spec.Template.Spec).First(c => ProgramOf(c).Program == "redis-init").Image,
            SidecarImage = sidecar.Image,
            AppSecret = appSecret.Metadata.Name,
            ClientLabel = ClientLabelOf(objects.OfType<V1NetworkPolicy>(), redis.Spec.Template.Metadata.Labels, allTemplates),
            VerifyJob = verify,
        };
    }

    /// <summary>The images a run replaces: ours and the server image, each matched by the name the overlay renders
    /// (kustomize's images transformer matches on the name without tag or digest).</summary>
    public IReadOnlyList<ImageOverride> Overrides(ImageReference? init, ImageReference? sidecar, ImageReference? server)
    {
        var list = new List<ImageOverride>();
        foreach (var (rendered, target) in new[] { (InitImage, init), (SidecarImage, sidecar), (Redis.Image, server) })
            if (target is not null) list.Add(new ImageOverride(ImageReference.TryParse(rendered, out _)?.Name ?? rendered, target));
        return list;
    }

    /// <summary>
    /// The label a client pod needs: an ingress peer of a NetworkPolicy covering the Redis pods that is a plain pod
    /// selector with one label, in this namespace, and that selects none of the rendered workloads (those are peers).
    /// </summary>
    internal static KeyValuePair<string, string>? ClientLabelOf(IEnumerable<V1NetworkPolicy> policies, IDictionary<string, string> redisLabels, IReadOnlyList<IDictionary<string, string>> workloadLabels)
    {
        var covering = policies.Where(p => Selects(p.Spec.PodSelector?.MatchLabels, redisLabels)).ToArray();
        if (covering.Length == 0) return null;
        var candidates = covering.SelectMany(p => p.Spec.Ingress ?? []).SelectMany(r => r.FromProperty ?? [])
            .Where(f => f.NamespaceSelector is null && f.IpBlock is null && f.PodSelector is { MatchExpressions: null or { Count: 0 }, MatchLabels.Count: 1 })
            .Select(f => f.PodSelector.MatchLabels.Single())
            .Where(kv => !workloadLabels.Any(l => l is not null && l.TryGetValue(kv.Key, out var v) && v == kv.Value))
            .Distinct()
            .ToArray();
        return candidates.Length == 1 ? candidates[0] : throw Problem(candidates.Length == 0
            ? "the NetworkPolicies admit no client pod label (a podSelector with one label that no workload carries)"
            : $"the NetworkPolicies admit several client labels ({string.Join(", ", candidates.Select(c => c.Key + "=" + c.Value))}); expected one");
    }

    static bool Selects(IDictionary<string, string>? selector, IDictionary<string, string> labels) =>
        selector is { Count: > 0 } && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>A kustomize-generated name: the base name, or the base name plus "-" and the 10-character hash.</summary>
    internal static bool IsGenerated(string name, string baseName) =>
        name == baseName || name.Length == baseName.Length + 11 && name.StartsWith(baseName + "-", StringComparison.Ordinal);

    /// <summary>The protocol container of a StatefulSet: the main container exposing <paramref name="port"/> (a name or a
    /// number; null: its only port), with its CLI derived from the server binary (redis-server → redis-cli).</summary>
    static ServerContainer Server(V1StatefulSet sts, string? port, string passwordFile)
    {
        var candidates = (sts.Spec.Template.Spec.Containers ?? [])
            .SelectMany(c => (c.Ports ?? []).Select(p => (Container: c, Port: p)))
            .Where(x => port is null || x.Port.Name == port || x.Port.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == port)
            .Where(x => x.Container.Command is not { Count: > 0 } || CliFor(x.Container.Command[0]) is not null)
            .ToArray();
        var (c, p) = candidates.Length == 1 ? candidates[0] : throw Problem($"StatefulSet {sts.Metadata.Name}: expected one server container exposing {port ?? "a port"}, found {candidates.Length}");
        return new ServerContainer(c.Name, c.Image, c.Command is { Count: > 0 } cmd ? CliFor(cmd[0])! : "redis-cli", p.ContainerPort, passwordFile);
    }

    /// <summary>redis-server / redis-sentinel → redis-cli; valkey-server / valkey-sentinel → valkey-cli; else null.</summary>
    internal static string? CliFor(string binary)
    {
        var name = binary[(binary.LastIndexOf('/') + 1)..];
        foreach (var suffix in new[] { "-server", "-sentinel" })
            if (name.EndsWith(suffix, StringComparison.Ordinal) && name.Length > suffix.Length) return name[..^suffix.Length] + "-cli";
        return null;
    }

    static IEnumerable<V1Container> AllContainers(V1PodSpec spec) => (spec.InitContainers ?? []).Concat(spec.Containers ?? []);

    /// <summary>("redis-init" | "redis-sidecar" | null, first argument) for a container.</summary>
    static (string? Program, string? Mode) ProgramOf(V1Container c)
    {
        var repo = ImageReference.TryParse(c.Image, out _)?.Name ?? c.Image;
        var program = repo.EndsWith("/redis-init", StringComparison.Ordinal) || repo == "redis-init" ? "redis-init"
            : repo.EndsWith("/redis-sidecar", StringComparison.Ordinal) || repo == "redis-sidecar" ? "redis-sidecar" : null;
        return (program, c.Args?.FirstOrDefault());
    }

    /// <summary>A container's plain-valued environment: envFrom ConfigMaps first, env values override.</summary>
    static Dictionary<string, string> Env(V1Container c, IReadOnlyDictionary<string, V1ConfigMap> configMaps)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var from in c.EnvFrom ?? [])
            if (from.ConfigMapRef is { } r && configMaps.TryGetValue(r.Name, out var cm))
                foreach (var (k, v) in cm.Data ?? new Dictionary<string, string>()) env[(from.Prefix ?? "") + k] = v;
        foreach (var e in c.Env ?? [])
            if (e.Value is not null) env[e.Name] = e.Value;
        return env;
    }

    static T Single<T>(IReadOnlyList<T> items, Func<T, bool> match, string what) =>
        items.Where(match).ToArray() switch
        {
            [var one] => one,
            var many => throw Problem($"expected {what}, found {many.Length}"),
        };

    static InvalidOperationException Problem(string message) => new($"the rendered manifests: {message}");
}
