using System.Globalization;
using RedisSidecars.Testing;
using StackExchange.Redis;

namespace RedisSidecars.Bench;

/// <summary>One Sentinel event as the benchmark's own subscriber received it (wall clock at arrival).</summary>
public sealed record SentinelEvent(DateTimeOffset At, Node Sentinel, string Channel, string Message);

/// <summary>Subscribes to every Sentinel and keeps every event of the given kinds since the last reset, with its arrival time.</summary>
public sealed class SentinelEvents : IAsyncDisposable
{
    readonly RedisSet set;
    readonly List<ConnectionMultiplexer> muxes = [];
    readonly List<SentinelEvent> seen = [];

    SentinelEvents(RedisSet set) => this.set = set;

    public static async Task<SentinelEvents> StartAsync(RedisSet set, params string[] channels)
    {
        var e = new SentinelEvents(set);
        foreach (var s in set.Sentinels)
        {
            var mux = await ConnectionMultiplexer.ConnectAsync(set.Options(s, 2000));
            e.muxes.Add(mux);
            foreach (var ch in channels)
                await mux.GetSubscriber().SubscribeAsync(RedisChannel.Literal(ch), (c, m) =>
                {
                    var now = DateTimeOffset.UtcNow;
                    lock (e.seen) e.seen.Add(new SentinelEvent(now, s, c.ToString(), m.ToString()));
                });
        }
        return e;
    }

    public void Reset() { lock (seen) seen.Clear(); }

    public IReadOnlyList<SentinelEvent> All() { lock (seen) return [.. seen]; }

    /// <summary>The first <paramref name="channel"/> event since the reset (from <paramref name="sentinel"/> only, when given).</summary>
    public SentinelEvent? First(string channel, Node? sentinel = null)
    {
        lock (seen) return seen.FirstOrDefault(e => e.Channel == channel && (sentinel is null || e.Sentinel == sentinel));
    }

    public async Task<SentinelEvent> WaitAsync(string channel, TimeSpan timeout, Node? sentinel = null)
    {
        await set.WaitUntilAsync(() => Task.FromResult(First(channel, sentinel) is not null), timeout,
            $"{channel}{(sentinel is null ? "" : " from " + sentinel.Name)}", poll: TimeSpan.FromMilliseconds(5));
        return First(channel, sentinel)!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in muxes) await m.DisposeAsync();
    }
}

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
