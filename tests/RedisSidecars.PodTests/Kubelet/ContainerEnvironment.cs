using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using k8s.Models;

namespace RedisSidecars.PodTests.Kubelet;

/// <summary>A Service as the kubelet sees it when it makes service-link variables: name, namespace, cluster IP, ports.</summary>
public sealed record ServiceLink(string Name, string Namespace, string? ClusterIp, IReadOnlyList<V1ServicePort> Ports)
{
    /// <summary>Headless ("None") or IP-less Services make no variables.</summary>
    public bool HasClusterIp => !string.IsNullOrEmpty(ClusterIp) && ClusterIp != "None";
}

/// <summary>What a container's <c>valueFrom</c> and <c>envFrom</c> read: the pod's fields and the namespace's objects.</summary>
public sealed record EnvironmentSources(
    IReadOnlyDictionary<string, string> PodFields,
    Func<string, V1ConfigMap?> ConfigMap,
    Func<string, V1Secret?> Secret);

/// <summary>
/// A container's environment exactly as the kubelet builds it (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables,
/// pkg/kubelet/envvars): envFrom, then env (later wins, <c>$(VAR)</c> expanded against what is declared so far and the
/// service variables), then the service-link variables of every Service with a cluster IP in the pod's namespace
/// (only when <c>enableServiceLinks</c> is not false) and always those of the <c>kubernetes</c> Service in
/// <c>default</c>, each only where the container does not declare the name itself.
/// </summary>
public static class ContainerEnvironment
{
    /// <summary>The variables of one Service (envvars.FromServices): _SERVICE_HOST/_PORT, named ports, Docker-style links.</summary>
    public static IEnumerable<KeyValuePair<string, string>> ServiceVariables(ServiceLink service)
    {
        if (!service.HasClusterIp || service.Ports.Count == 0) yield break;
        var prefix = VariableName(service.Name);
        yield return new($"{prefix}_SERVICE_HOST", service.ClusterIp!);
        yield return new($"{prefix}_SERVICE_PORT", service.Ports[0].Port.ToString(CultureInfo.InvariantCulture));
        foreach (var port in service.Ports.Where(p => !string.IsNullOrEmpty(p.Name)))
            yield return new($"{prefix}_SERVICE_PORT_{VariableName(port.Name)}", port.Port.ToString(CultureInfo.InvariantCulture));
        for (var i = 0; i < service.Ports.Count; i++)
        {
            var port = service.Ports[i];
            var protocol = string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol;
            var hostPort = JoinHostPort(service.ClusterIp!, port.Port);
            var url = $"{protocol.ToLowerInvariant()}://{hostPort}";
            if (i == 0) yield return new($"{prefix}_PORT", url);
            var portPrefix = $"{prefix}_PORT_{port.Port.ToString(CultureInfo.InvariantCulture)}_{protocol.ToUpperInvariant()}";
            yield return new(portPrefix, url);
            yield return new($"{portPrefix}_PROTO", protocol.ToLowerInvariant());
            yield return new($"{portPrefix}_PORT", port.Port.ToString(CultureInfo.InvariantCulture));
            yield return new($"{portPrefix}_ADDR", service.ClusterIp!);
        }
    }

    /// <summary>The service variables a pod in <paramref name="podNamespace"/> gets (kubelet getServiceEnvVarMap).</summary>
    public static IReadOnlyDictionary<string, string> ServiceEnvironment(string podNamespace, bool enableServiceLinks, IEnumerable<ServiceLink> services)
    {
        var chosen = new Dictionary<string, ServiceLink>(StringComparer.Ordinal);
        foreach (var service in services.Where(s => s.HasClusterIp))
        {
            if (service.Namespace == "default" && service.Name == "kubernetes") chosen.TryAdd(service.Name, service);
            else if (service.Namespace == podNamespace && enableServiceLinks) chosen[service.Name] = service;
        }
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in chosen.Values.SelectMany(ServiceVariables)) env[name] = value;
        return env;
    }

    /// <summary>
    /// The environment in the order the kubelet hands it to the runtime: declared names in declaration order, then
    /// the service variables the container did not declare. Throws when a referenced object or key is missing
    /// (the kubelet fails the container with CreateContainerConfigError).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Build(V1Container container, IReadOnlyDictionary<string, string> serviceEnv, EnvironmentSources sources)
    {
        var declared = new List<KeyValuePair<string, string>>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        void Set(string name, string value)
        {
            if (index.TryGetValue(name, out var at)) declared[at] = new(name, value);
            else { index[name] = declared.Count; declared.Add(new(name, value)); }
        }

        foreach (var from in container.EnvFrom ?? [])
        {
            var prefix = from.Prefix ?? "";
            if (from.ConfigMapRef is { } cmRef)
            {
                var cm = sources.ConfigMap(cmRef.Name);
                if (cm is null) { if (cmRef.Optional == true) continue; throw Missing(container, $"configmap \"{cmRef.Name}\" not found"); }
                foreach (var (key, value) in (cm.Data ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    if (IsValidName(prefix + key)) Set(prefix + key, value);
            }
            if (from.SecretRef is { } sRef)
            {
                var secret = sources.Secret(sRef.Name);
                if (secret is null) { if (sRef.Optional == true) continue; throw Missing(container, $"secret \"{sRef.Name}\" not found"); }
                foreach (var (key, value) in SecretData(secret).OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    if (IsValidName(prefix + key)) Set(prefix + key, Encoding.UTF8.GetString(value));
            }
        }

        foreach (var e in container.Env ?? [])
        {
            if (e.ValueFrom is null)
            {
                var known = new Dictionary<string, string>(serviceEnv, StringComparer.Ordinal);
                foreach (var (k, v) in declared) known[k] = v;
                Set(e.Name, Expand(e.Value ?? "", known));
                continue;
            }
            var value = e.ValueFrom switch
            {
                { FieldRef: { } field } => sources.PodFields.TryGetValue(field.FieldPath, out var f) ? f
                    : throw Missing(container, $"unsupported fieldPath \"{field.FieldPath}\" for env {e.Name}"),
                { ConfigMapKeyRef: { } key } => sources.ConfigMap(key.Name)?.Data?.TryGetValue(key.Key, out var v) == true ? v
                    : key.Optional == true ? null : throw Missing(container, $"couldn't find key {key.Key} in ConfigMap {key.Name}"),
                { SecretKeyRef: { } key } => sources.Secret(key.Name) is { } s && SecretData(s).TryGetValue(key.Key, out var b) ? Encoding.UTF8.GetString(b)
                    : key.Optional == true ? null : throw Missing(container, $"couldn't find key {key.Key} in Secret {key.Name}"),
                { ResourceFieldRef: { } resource } => ResourceValue(container, resource),
                _ => throw Missing(container, $"env {e.Name} has an empty valueFrom"),
            };
            if (value is not null) Set(e.Name, value);
        }

        return [.. declared, .. serviceEnv.Where(kv => !index.ContainsKey(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal)];
    }

    /// <summary>The kubelet's <c>$(VAR)</c> expansion (third_party/forked/golang/expansion): <c>$$</c> escapes, unknown names stay as written.</summary>
    public static string Expand(string input, IReadOnlyDictionary<string, string> variables)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < input.Length; i++)
        {
            if (input[i] != '$' || i + 1 >= input.Length) { sb.Append(input[i]); continue; }
            var next = input[i + 1];
            if (next == '$') { sb.Append('$'); i++; continue; }
            if (next == '(')
            {
                var close = input.IndexOf(')', i + 2);
                if (close < 0) { sb.Append(input, i, input.Length - i); break; }
                var name = input[(i + 2)..close];
                sb.Append(variables.TryGetValue(name, out var value) ? value : $"$({name})");
                i = close;
                continue;
            }
            sb.Append('$');
        }
        return sb.ToString();
    }

    /// <summary>Service name → variable prefix: upper case, '-' → '_'.</summary>
    public static string VariableName(string name) => name.Replace('-', '_').ToUpperInvariant();

    public static IReadOnlyDictionary<string, byte[]> SecretData(V1Secret secret)
    {
        var data = new Dictionary<string, byte[]>(secret.Data ?? new Dictionary<string, byte[]>(), StringComparer.Ordinal);
        foreach (var (k, v) in secret.StringData ?? new Dictionary<string, string>()) data[k] = Encoding.UTF8.GetBytes(v);
        return data;
    }

    static readonly Regex EnvName = new("^[-._a-zA-Z][-._a-zA-Z0-9]*$", RegexOptions.CultureInvariant);

    static bool IsValidName(string name) => EnvName.IsMatch(name);

    static string JoinHostPort(string host, int port) =>
        IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    static string ResourceValue(V1Container container, V1ResourceFieldSelector field)
    {
        var (section, name) = field.Resource.Split('.', 2) switch { [var a, var b] => (a, b), _ => ("", field.Resource) };
        var quantities = section == "limits" ? container.Resources?.Limits : container.Resources?.Requests;
        var divisor = field.Divisor is { } d ? d.ToDecimal() : 1m;
        if (quantities is null || !quantities.TryGetValue(name, out var q))
            throw new NotSupportedException($"{container.Name}: resourceFieldRef {field.Resource} without an explicit value (node allocatable) is not modelled");
        return Math.Ceiling(q.ToDecimal() / divisor).ToString(CultureInfo.InvariantCulture);
    }

    static InvalidOperationException Missing(V1Container c, string what) => new($"CreateContainerConfigError: container {c.Name}: {what}");
}
