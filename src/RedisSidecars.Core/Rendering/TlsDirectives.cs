using System.Globalization;
using System.Text;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.Core.Rendering;

/// <summary>The TLS directives both redis.conf and sentinel.conf get when TLS is on (plain port closed).</summary>
public static class TlsDirectives
{
    /// <summary>Directives generated here, dropped from a template when TLS is on.</summary>
    public static readonly HashSet<string> Names = new(StringComparer.Ordinal)
    {
        "port", "tls-port", "tls-replication", "tls-ca-cert-file", "tls-cert-file", "tls-key-file", "tls-auth-clients",
    };

    public static void Append(StringBuilder sb, TlsSettings tls, int port)
    {
        sb.Append("port 0\n");
        sb.Append("tls-port ").Append(port.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("tls-replication yes\n");
        sb.Append("tls-auth-clients optional\n");
        sb.Append("tls-ca-cert-file ").Append(ConfigQuoting.Quote(tls.CaFile)).Append('\n');
        sb.Append("tls-cert-file ").Append(ConfigQuoting.Quote(tls.CertFile)).Append('\n');
        sb.Append("tls-key-file ").Append(ConfigQuoting.Quote(tls.KeyFile)).Append('\n');
    }
}
