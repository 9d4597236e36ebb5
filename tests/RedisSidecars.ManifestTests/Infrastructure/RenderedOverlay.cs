using k8s;
using k8s.Models;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>A resource of a kind the KubernetesClient has no model for (CRDs), kept as parsed YAML.</summary>
public sealed record UntypedResource(string ApiVersion, string Kind, Dictionary<object, object> Body)
{
    public string Name => (string)((Dictionary<object, object>)Body["metadata"])["name"];
    public object? At(params object[] path)
    {
        object? node = Body;
        foreach (var step in path)
        {
            node = (node, step) switch
            {
                (Dictionary<object, object> d, string key) => d.TryGetValue(key, out var v) ? v : null,
                (List<object> l, int i) => i < l.Count ? l[i] : null,
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }
    public string? String(params object[] path) => At(path) as string;
    public IReadOnlyList<object> List(params object[] path) => At(path) as List<object> ?? [];
    public IReadOnlyDictionary<string, string> StringMap(params object[] path) =>
        (At(path) as Dictionary<object, object> ?? []).ToDictionary(kv => (string)kv.Key, kv => (string)kv.Value);
}

/// <summary>Where an environment variable's value comes from.</summary>
public sealed record EnvValue(string Name, string? Value, string Source);

/// <summary>A pod template found in a workload, with the kind/name of its owner.</summary>
public sealed record PodTemplate(string OwnerKind, string OwnerName, V1PodTemplateSpec Template)
{
    public V1PodSpec Spec => Template.Spec;
    public IDictionary<string, string> Labels => Template.Metadata?.Labels ?? new Dictionary<string, string>();
    public override string ToString() => $"{OwnerKind}/{OwnerName}";
}

/// <summary>One overlay, rendered by kubectl kustomize and loaded into the KubernetesClient's typed models.</summary>
public sealed class RenderedOverlay
{
    /// <summary>CRD kinds the manifests may use; everything else must have a typed model.</summary>
    public static readonly IReadOnlyDictionary<string, Type> CustomKinds = new Dictionary<string, Type>
    {
        ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(Dictionary<object, object>),
        ["monitoring.coreos.com/v1/PrometheusRule"] = typeof(Dictionary<object, object>),
        ["cert-manager.io/v1/Certificate"] = typeof(Dictionary<object, object>),
    };

    RenderedOverlay(string name, string yaml, IReadOnlyList<object> objects)
    {
        Name = name;
        Yaml = yaml;
        Objects = objects;
    }

    public string Name { get; }
    public string Yaml { get; }
    public IReadOnlyList<object> Objects { get; }

    /// <summary>Strict parse: an unknown kind, or a field a model does not have, throws.</summary>
    public static RenderedOverlay Parse(string name, string yaml)
    {
        var raw = KubernetesYaml.LoadAllFromString(yaml, CustomKinds.ToDictionary(kv => kv.Key, kv => kv.Value), strict: true);
        var objects = raw.Select(o => o is Dictionary<object, object> d
            ? new UntypedResource((string)d["apiVersion"], (string)d["kind"], d)
            : o).ToList();
        return new RenderedOverlay(name, yaml, objects);
    }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();
    public IEnumerable<UntypedResource> Custom(string kind) => All<UntypedResource>().Where(u => u.Kind == kind);

    public T One<T>(string name) where T : IKubernetesObject<V1ObjectMeta> =>
        All<T>().SingleOrDefault(o => o.Metadata.Name == name)
        ?? throw new Xunit.Sdk.XunitException($"{Name}: no {typeof(T).Name} named '{name}'");

    public V1StatefulSet StatefulSet(string name) => One<V1StatefulSet>(name);
    public V1Service Service(string name) => One<V1Service>(name);

    /// <summary>Every pod template: StatefulSets, Deployments, DaemonSets, Jobs.</summary>
    public IEnumerable<PodTemplate> PodTemplates =>
        All<V1StatefulSet>().Select(s => new PodTemplate("StatefulSet", s.Metadata.Name, s.Spec.Template))
            .Concat(All<V1Deployment>().Select(d => new PodTemplate("Deployment", d.Metadata.Name, d.Spec.Template)))
            .Concat(All<V1DaemonSet>().Select(d => new PodTemplate("DaemonSet", d.Metadata.Name, d.Spec.Template)))
            .Concat(All<V1Job>().Select(j => new PodTemplate("Job", j.Metadata.Name, j.Spec.Template)));

    public PodTemplate Pod(string ownerName) => PodTemplates.Single(p => p.OwnerName == ownerName);

    /// <summary>A ConfigMap or Secret by its generated name (with kustomize's hash suffix, as referenced).</summary>
    public V1ConfigMap ConfigMap(string name) => One<V1ConfigMap>(name);
    public V1Secret Secret(string name) => One<V1Secret>(name);

    /// <summary>A generated ConfigMap by the name it had before kustomize added the hash suffix.</summary>
    public V1ConfigMap GeneratedConfigMap(string baseName) =>
        All<V1ConfigMap>().SingleOrDefault(c => c.Metadata.Name == baseName || c.Metadata.Name.StartsWith(baseName + "-", StringComparison.Ordinal)
                                               && c.Metadata.Name.Length == baseName.Length + 11)
        ?? throw new Xunit.Sdk.XunitException($"{Name}: no generated ConfigMap '{baseName}'");

    /// <summary>A container's environment as the kubelet builds it: envFrom first, env entries override.</summary>
    public IReadOnlyDictionary<string, EnvValue> Env(V1Container c)
    {
        var env = new Dictionary<string, EnvValue>(StringComparer.Ordinal);
        foreach (var from in c.EnvFrom ?? [])
        {
            if (from.ConfigMapRef is { } cm)
                foreach (var (k, v) in ConfigMap(cm.Name).Data ?? new Dictionary<string, string>())
                    env[(from.Prefix ?? "") + k] = new EnvValue((from.Prefix ?? "") + k, v, $"configMap:{cm.Name}");
            if (from.SecretRef is { } s)
                foreach (var k in (Secret(s.Name).Data ?? new Dictionary<string, byte[]>()).Keys)
                    env[(from.Prefix ?? "") + k] = new EnvValue((from.Prefix ?? "") + k, null, $"secret:{s.Name}");
        }
        foreach (var e in c.Env ?? [])
        {
            var source = e.ValueFrom switch
            {
                null => "value",
                { FieldRef: { } f } => $"fieldRef:{f.FieldPath}",
                { SecretKeyRef: { } s } => $"secretKeyRef:{s.Name}/{s.Key}",
                { ConfigMapKeyRef: { } m } => $"configMapKeyRef:{m.Name}/{m.Key}",
                { ResourceFieldRef: { } r } => $"resourceFieldRef:{r.Resource}",
                _ => "unknown",
            };
            env[e.Name] = new EnvValue(e.Name, e.Value, source);
        }
        return env;
    }

    /// <summary>The value a setting has in a container (null when unset), failing if it is not a plain value.</summary>
    public string? Setting(V1Container c, string name) =>
        Env(c).TryGetValue(name, out var v) ? v.Value ?? throw new Xunit.Sdk.XunitException($"{Name}: {c.Name}'s {name} is not a plain value ({v.Source})") : null;

    /// <summary>The volume and the path inside it that a file path in a container resolves to.</summary>
    public (V1Volume Volume, V1VolumeMount Mount, string RelativePath)? Resolve(PodTemplate pod, V1Container c, string path)
    {
        var mount = (c.VolumeMounts ?? [])
            .Where(m => path == m.MountPath || path.StartsWith(m.MountPath.TrimEnd('/') + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.MountPath.Length)
            .FirstOrDefault();
        if (mount is null) return null;
        var claims = pod.OwnerKind == "StatefulSet"
            ? (StatefulSet(pod.OwnerName).Spec.VolumeClaimTemplates ?? []).Select(t => new V1Volume
            {
                Name = t.Metadata.Name,
                PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = t.Metadata.Name },
            })
            : [];
        var volume = (pod.Spec.Volumes ?? []).Concat(claims).SingleOrDefault(v => v.Name == mount.Name)
            ?? throw new Xunit.Sdk.XunitException($"{Name}: {pod} mounts volume '{mount.Name}' that it does not declare");
        return (volume, mount, path.Length > mount.MountPath.Length ? path[(mount.MountPath.TrimEnd('/').Length + 1)..] : "");
    }

    /// <summary>File names a Secret or ConfigMap volume shows (items mapped, or every key).</summary>
    public IReadOnlyCollection<string> FilesIn(V1Volume v)
    {
        if (v.Secret is { } s)
        {
            return ItemPaths(s.Items, SecretKeys(s.SecretName), $"Secret {s.SecretName}");
        }
        if (v.ConfigMap is { } cm)
        {
            var keys = (ConfigMap(cm.Name).Data ?? new Dictionary<string, string>()).Keys.ToHashSet();
            return ItemPaths(cm.Items, keys, $"ConfigMap {cm.Name}");
        }
        throw new Xunit.Sdk.XunitException($"{Name}: volume '{v.Name}' is not a Secret or ConfigMap volume");
    }

    /// <summary>The keys of a Secret: rendered (secretGenerator), or issued by a cert-manager Certificate in the overlay.</summary>
    public HashSet<string> SecretKeys(string name)
    {
        if (All<V1Secret>().SingleOrDefault(x => x.Metadata.Name == name) is { } secret)
            return (secret.Data ?? new Dictionary<string, byte[]>()).Keys.Concat((secret.StringData ?? new Dictionary<string, string>()).Keys).ToHashSet();
        if (Custom("Certificate").Any(c => c.String("spec", "secretName") == name))
            return ["ca.crt", "tls.crt", "tls.key"];
        throw new Xunit.Sdk.XunitException($"{Name}: Secret '{name}' is neither rendered nor issued by a Certificate");
    }

    IReadOnlyCollection<string> ItemPaths(IList<V1KeyToPath>? items, HashSet<string> keys, string what)
    {
        if (items is null || items.Count == 0) return keys;
        foreach (var i in items)
            if (!keys.Contains(i.Key)) throw new Xunit.Sdk.XunitException($"{Name}: {what} has no key '{i.Key}' (keys: {string.Join(", ", keys)})");
        return items.Select(i => i.Path).ToArray();
    }
}
