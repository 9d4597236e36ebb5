using System.Globalization;
using System.Text;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.Core.Rendering;

/// <summary>
/// Where redis.conf and sentinel.conf listen: the generator owns <c>port</c> and <c>tls-port</c> in every mode,
/// so the configured port (REDIS_PORT / SENTINEL_PORT) is the port the server listens on and the port it
/// announces. Plain: <c>port N</c>. TLS: <c>port 0</c> (no plain-text port) and <c>tls-port N</c> with the TLS files.
/// </summary>
public static class ListenerDirectives
{
    /// <summary>The TLS directives generated with TLS on, dropped from a template then.</summary>
    public static readonly HashSet<string> TlsNames = new(StringComparer.Ordinal)
    {
        "port", "tls-port", "tls-replication", "tls-ca-cert-file", "tls-cert-file", "tls-key-file", "tls-auth-clients",
    };

    public static void Append(StringBuilder sb, int port, TlsSettings? tls)
    {
        var p = port.ToString(CultureInfo.InvariantCulture);
        if (tls is null)
        {
            sb.Append("port ").Append(p).Append('\n');
            return;
        }
        sb.Append("port 0\n");
        sb.Append("tls-port ").Append(p).Append('\n');
        sb.Append("tls-replication yes\n");
        sb.Append("tls-auth-clients optional\n");
        sb.Append("tls-ca-cert-file ").Append(ConfigQuoting.Quote(tls.CaFile)).Append('\n');
        sb.Append("tls-cert-file ").Append(ConfigQuoting.Quote(tls.CertFile)).Append('\n');
        sb.Append("tls-key-file ").Append(ConfigQuoting.Quote(tls.KeyFile)).Append('\n');
    }

    /// <summary>
    /// A template line that asks for a TLS listener (<c>tls-port</c> other than 0) while TLS_ENABLED is off: dropping it
    /// would serve plain text where TLS was asked for, so the caller refuses the template instead. Null when there is none.
    /// </summary>
    public static string? TlsListenerInTemplate(string template)
    {
        foreach (var line in template.ReplaceLineEndings("\n").Split('\n'))
            if (ConfigQuoting.Directive(line) is { Count: > 1 } d && d[0] == "tls-port" && d[1] != "0") return line.Trim();
        return null;
    }
}
