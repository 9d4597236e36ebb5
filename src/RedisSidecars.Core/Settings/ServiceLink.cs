using System.Text.RegularExpressions;
using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Settings;

/// <summary>
/// Kubernetes service-link variables. For every Service with a cluster IP in its namespace, the kubelet gives
/// every container (unless the pod sets <c>enableServiceLinks: false</c>, and only for names the pod does not
/// declare itself) <c>&lt;SERVICE&gt;_SERVICE_HOST</c>, <c>&lt;SERVICE&gt;_SERVICE_PORT</c> and the Docker-link
/// style <c>&lt;SERVICE&gt;_PORT=tcp://&lt;ip&gt;:&lt;port&gt;</c> and <c>&lt;SERVICE&gt;_PORT_&lt;n&gt;_TCP=…</c>
/// (<c>&lt;SERVICE&gt;</c> is the Service name upper-cased with <c>-</c> → <c>_</c>). A Service named
/// <c>sentinel</c> thus sets <c>SENTINEL_PORT=tcp://10.96.136.25:26379</c>, which is also a setting's name.
/// </summary>
public static partial class ServiceLink
{
    /// <summary>True when <paramref name="value"/> has the kubelet's form <c>tcp|udp|sctp://host:port</c>.</summary>
    public static bool IsServiceLinkValue(string value) => ValuePattern().IsMatch(value.Trim());

    /// <summary>The Service a variable of this name is injected for (<c>SENTINEL_PORT</c> → <c>sentinel</c>,
    /// <c>REDIS_SENTINEL_PORT_26379_TCP</c> → <c>redis-sentinel</c>); null when the kubelet never injects such a name.</summary>
    public static string? ServiceOf(string variable)
    {
        var m = NamePattern().Match(variable);
        return m.Success ? m.Groups[1].Value.ToLowerInvariant().Replace('_', '-') : null;
    }

    /// <summary>The one-line error for a setting whose value is a service-link value.</summary>
    public static string Error(string variable, string value, string expected)
    {
        var shown = NodeAddress.Printable(value.Trim());
        return ServiceOf(variable) is { } service
            ? $"{variable}='{shown}' is a Kubernetes service-link variable, injected by the kubelet for the Service named '{service}', not this setting " +
              $"(expected {expected}; set enableServiceLinks: false in the pod spec, or set {variable} explicitly)"
            : $"{variable}='{shown}' is a Kubernetes service-link value (the kubelet's <SERVICE>_PORT=tcp://<ip>:<port>), not this setting " +
              $"(expected {expected}; if it comes from a $(..._PORT) reference, set enableServiceLinks: false in the pod spec and set {variable} explicitly)";
    }

    [GeneratedRegex(@"^(?i:tcp|udp|sctp)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")]
    private static partial Regex ValuePattern();

    [GeneratedRegex(@"^([A-Z0-9][A-Z0-9_]*?)_PORT(?:_[0-9]+_(?:TCP|UDP|SCTP))?$")]
    private static partial Regex NamePattern();
}
