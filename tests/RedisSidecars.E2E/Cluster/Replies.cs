using System.Globalization;

namespace RedisSidecars.E2E.Cluster;

/// <summary>A pod as the suite matches addresses against it.</summary>
public sealed record PodAddress(string Name, string? Ip);

/// <summary>One +switch-master message: the failover of <see cref="MasterSet"/> from Old to New, as one Sentinel published it.</summary>
public sealed record SwitchMaster(string MasterSet, string OldHost, int OldPort, string NewHost, int NewPort);

/// <summary>Parsers for what redis-cli prints (non-tty output: one reply element per line; --csv: one message per line).</summary>
public static class Replies
{
    /// <summary>SENTINEL get-master-addr-by-name: "host\nport"; null for a nil reply or anything else.</summary>
    public static (string Host, int Port)? MasterAddress(string stdout)
    {
        var lines = Lines(stdout);
        return lines.Length == 2 && lines[0].Length > 0 && int.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            ? (lines[0], port)
            : null;
    }

    /// <summary>A --csv SUBSCRIBE line: "message","+switch-master","mymaster old-host 6379 new-host 6379"; null for others.</summary>
    public static SwitchMaster? SwitchMasterLine(string line)
    {
        var fields = CsvFields(line.Trim());
        if (fields is not ["message", "+switch-master", var payload]) return null;
        var words = payload.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 5
               && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var oldPort)
               && int.TryParse(words[4], NumberStyles.None, CultureInfo.InvariantCulture, out var newPort)
            ? new SwitchMaster(words[0], words[1], oldPort, words[3], newPort)
            : null;
    }

    /// <summary>ROLE then CLIENT INFO over one connection: the role (first line) and the server's own address (laddr).</summary>
    public static (string Role, string? ServerIp) RoleAndServerAddress(string stdout)
    {
        var lines = Lines(stdout);
        var role = lines.Length > 0 ? lines[0] : "";
        var laddr = lines.SelectMany(l => l.Split(' ')).FirstOrDefault(w => w.StartsWith("laddr=", StringComparison.Ordinal))?["laddr=".Length..];
        return (role, laddr is null ? null : HostOf(laddr));
    }

    /// <summary>ReadBack's output: the role on the first line, then the keys.</summary>
    public static (string Role, IReadOnlySet<string> Keys) RoleAndKeys(string stdout)
    {
        var lines = Lines(stdout);
        return (lines.Length > 0 ? lines[0] : "", lines.Skip(1).Where(l => l.Length > 0).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>The pod an announced address belongs to: a pod DNS name (pod.service.ns…), the bare pod name, or the pod IP.</summary>
    public static string? PodOf(string host, IEnumerable<PodAddress> pods)
    {
        var list = pods.ToArray();
        var first = host.Split('.')[0];
        return list.FirstOrDefault(p => p.Ip == host)?.Name
               ?? list.FirstOrDefault(p => p.Name == host || p.Name == first && host.Contains('.', StringComparison.Ordinal) && !System.Net.IPAddress.TryParse(host, out _))?.Name;
    }

    /// <summary>"10.0.0.1:6379" → "10.0.0.1"; "[fd00::1]:6379" or "fd00::1:6379" → "fd00::1".</summary>
    internal static string HostOf(string hostPort)
    {
        if (hostPort.StartsWith('[')) return hostPort[1..hostPort.IndexOf(']', StringComparison.Ordinal)];
        var colon = hostPort.LastIndexOf(':');
        return colon > 0 ? hostPort[..colon] : hostPort;
    }

    static string[] Lines(string s) => s.Replace("\r", "", StringComparison.Ordinal).TrimEnd('\n').Split('\n');

    /// <summary>redis-cli's CSV: comma-separated, strings in double quotes with backslash escapes.</summary>
    internal static string[]? CsvFields(string line)
    {
        var fields = new List<string>();
        var i = 0;
        while (i < line.Length)
        {
            if (line[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (i < line.Length && line[i] != '"')
                {
                    if (line[i] == '\\' && i + 1 < line.Length) i++;
                    sb.Append(line[i++]);
                }
                if (i >= line.Length) return null; // unterminated
                i++;
                fields.Add(sb.ToString());
            }
            else
            {
                var end = line.IndexOf(',', i);
                if (end < 0) end = line.Length;
                fields.Add(line[i..end]);
                i = end;
            }
            if (i < line.Length)
            {
                if (line[i] != ',') return null;
                i++;
            }
        }
        return fields.ToArray();
    }
}
