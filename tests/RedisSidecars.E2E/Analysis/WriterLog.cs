using System.Globalization;

namespace RedisSidecars.E2E.Analysis;

/// <summary>What one writer pod logged (see <see cref="Cluster.Scripts.Writer"/>): its key prefix, every acknowledged
/// write with its time (ms, the writer's own clock), the failed attempts, and lines it could not read.</summary>
public sealed record WriterRun(
    string? Prefix,
    IReadOnlyDictionary<long, long> AckedAt,
    IReadOnlyList<(long Ms, long Seq, string Reply)> Errors,
    int Unreadable,
    bool Ended)
{
    public string Key(long seq) => $"{Prefix}:{seq}";
}

public static class WriterLog
{
    /// <summary>Parses a writer's log. A torn last line (the log read while the writer runs) counts as unreadable, never as an ack.</summary>
    public static WriterRun Parse(string log)
    {
        string? prefix = null;
        var acked = new Dictionary<long, long>();
        var errors = new List<(long, long, string)>();
        var unreadable = 0;
        var ended = false;
        var lines = log.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        // The element after the last newline is empty for a complete log, else a line cut mid-write.
        var complete = lines.Length - 1;
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n];
            if (line.Length == 0) continue;
            if (n >= complete) { unreadable++; continue; }
            var parts = line.Split(' ', 4);
            if (parts.Length < 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)) { unreadable++; continue; }
            switch (parts[1])
            {
                case "start" when prefix is null:
                    prefix = parts[2];
                    break;
                case "ack" when long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var seq) && parts.Length == 3:
                    if (!acked.TryAdd(seq, ms)) unreadable++; // a sequence number logged twice is not trusted twice
                    break;
                case "err" when long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var seq):
                    errors.Add((ms, seq, parts.Length > 3 ? parts[3].Trim() : ""));
                    break;
                case "end":
                    ended = true;
                    break;
                default:
                    unreadable++;
                    break;
            }
        }
        return new WriterRun(prefix, acked, errors, unreadable, ended);
    }
}
