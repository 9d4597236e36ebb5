using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RedisSidecars.Core.Addressing;

/// <summary>A Redis or Sentinel node: a validated host (DNS name or IP literal) and a port.</summary>
public readonly record struct NodeAddress
{
    public NodeAddress(string host, int port)
    {
        if (!HostName.IsValid(host)) throw new ArgumentException($"'{host}' is not a valid host name or IP address", nameof(host));
        if (port is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "port must be 1-65535");
        Host = HostName.Normalize(host);
        Port = port;
    }

    public string Host { get; }
    public int Port { get; }

    public bool IsIPv6 => Host.Contains(':');

    /// <summary><c>host:port</c>, with IPv6 literals in brackets.</summary>
    public override string ToString() => IsIPv6 ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>The host and port as two config-file tokens (<c>host port</c>).</summary>
    public string ToConfigTokens() => $"{Host} {Port.ToString(CultureInfo.InvariantCulture)}";

    public bool Equals(NodeAddress other) =>
        Port == other.Port && string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() => HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(Host ?? ""), Port);

    /// <summary>Parses <c>host:port</c>, <c>[v6]:port</c>, or a bare host when <paramref name="defaultPort"/> is given.</summary>
    public static bool TryParse(string? text, int? defaultPort, out NodeAddress address, [NotNullWhen(false)] out string? error)
    {
        address = default;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text)) { error = "empty address"; return false; }

        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']');
            if (close < 0) { error = $"'{text}' has an unclosed '['"; return false; }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':') { error = $"'{text}' must be [ipv6]:port"; return false; }
                portText = rest[1..];
            }
        }
        else
        {
            var colons = text.Count(c => c == ':');
            if (colons == 1)
            {
                var i = text.IndexOf(':');
                host = text[..i];
                portText = text[(i + 1)..];
            }
            else if (colons == 0) host = text;
            else { error = $"'{text}' is ambiguous: write IPv6 addresses as [addr]:port"; return false; }
        }

        if (!HostName.IsValid(host)) { error = $"'{host}' is not a valid host name or IP address"; return false; }

        int port;
        if (portText is null)
        {
            if (defaultPort is null) { error = $"'{text}' has no port (expected host:port)"; return false; }
            port = defaultPort.Value;
        }
        else if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            error = $"'{portText}' in '{text}' is not a port (expected 1-65535)";
            return false;
        }

        address = new NodeAddress(host, port);
        error = null;
        return true;
    }

    /// <summary>Builds an address from a host and port that came from the network, validating both.</summary>
    public static bool TryCreate(string? host, long port, out NodeAddress address, [NotNullWhen(false)] out string? error)
    {
        address = default;
        if (host is null || !HostName.IsValid(host)) { error = $"'{Printable(host)}' is not a valid host name or IP address"; return false; }
        if (port is < 1 or > 65535) { error = $"{port} is not a valid port"; return false; }
        address = new NodeAddress(host, (int)port);
        error = null;
        return true;
    }

    /// <summary>Parses a comma-separated list; every element must be valid and distinct.</summary>
    public static bool TryParseList(string? text, int? defaultPort, out IReadOnlyList<NodeAddress> list, [NotNullWhen(false)] out string? error)
    {
        list = [];
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.All(p => p.Length == 0)) { error = "the list is empty"; return false; }
        var result = new List<NodeAddress>(parts.Length);
        foreach (var part in parts)
        {
            if (part.Length == 0) { error = "the list has an empty element (stray comma?)"; return false; }
            if (!TryParse(part, defaultPort, out var a, out var e)) { error = e; return false; }
            if (result.Contains(a)) { error = $"'{a}' is listed twice"; return false; }
            result.Add(a);
        }
        list = result;
        error = null;
        return true;
    }

    /// <summary>A short, printable rendering of untrusted text for error messages.</summary>
    public static string Printable(string? s)
    {
        if (s is null) return "(null)";
        var clean = new string(s.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return s.Length > 80 ? clean + "…" : clean;
    }
}

/// <summary>RFC 1123 host names and IP literals.</summary>
public static class HostName
{
    public static bool IsValid(string? host)
    {
        if (string.IsNullOrEmpty(host) || host.Length > 253 || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))) return false;
        if (host.Contains(':'))
            return IPAddress.TryParse(host, out var ip6) && ip6.AddressFamily == AddressFamily.InterNetworkV6;
        if (host.All(c => char.IsAsciiDigit(c) || c == '.'))
            return IPAddress.TryParse(host, out var ip4) && ip4.AddressFamily == AddressFamily.InterNetwork && host.Count(c => c == '.') == 3;
        foreach (var label in host.Split('.'))
        {
            if (label.Length is 0 or > 63) return false;
            if (label[0] == '-' || label[^1] == '-') return false;
            if (!label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) return false;
        }
        return true;
    }

    public static string Normalize(string host) =>
        host.Contains(':') && IPAddress.TryParse(host, out var ip) ? ip.ToString() : host.ToLowerInvariant();
}
