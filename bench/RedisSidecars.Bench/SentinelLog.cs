using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>A Sentinel's own log: the time it wrote an event line (millisecond stamps, local time).</summary>
public static class SentinelLog
{
    /// <summary>
    /// The time of the first line at or after <paramref name="after"/> whose event is <paramref name="kind"/>, e.g.
    /// <c>12345:X 22 Nov 2026 18:12:01.123 # +promoted-slave slave 127.0.1.2:6379 …</c>; null when there is none.
    /// </summary>
    public static DateTimeOffset? Find(Node sentinel, string kind, DateTimeOffset after)
    {
        string[] lines;
        try
        {
            using var stream = new FileStream(sentinel.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            lines = new StreamReader(stream).ReadToEnd().Split('\n');
        }
        catch (IOException) { return null; }
        foreach (var line in lines)
        {
            // "<pid>:X <dd> <Mon> <yyyy> <HH:mm:ss.fff> <level> <event> ..."
            var parts = line.Split(' ', 7);
            if (parts.Length < 7 || !parts[6].StartsWith(kind + " ", StringComparison.Ordinal)) continue;
            if (!DateTime.TryParseExact($"{parts[1]} {parts[2]} {parts[3]} {parts[4]}", "d MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeLocal, out var local)) continue;
            var at = new DateTimeOffset(local.ToUniversalTime(), TimeSpan.Zero);
            if (at >= after.AddMilliseconds(-1)) return at;
        }
        return null;
    }
}
