using RedisSidecars.Testing;
using StackExchange.Redis;

namespace RedisSidecars.Bench;

/// <summary>Listens to every Sentinel and keeps the first arrival (wall clock) of each event kind since the last reset.</summary>
public sealed class SentinelEvents : IAsyncDisposable
{
    readonly List<ConnectionMultiplexer> muxes = [];
    readonly Dictionary<string, DateTimeOffset> first = [];

    public static async Task<SentinelEvents> StartAsync(RedisSet set, params string[] channels)
    {
        var e = new SentinelEvents();
        foreach (var s in set.Sentinels)
        {
            var mux = await ConnectionMultiplexer.ConnectAsync(set.Options(s, 2000));
            e.muxes.Add(mux);
            foreach (var ch in channels)
                await mux.GetSubscriber().SubscribeAsync(RedisChannel.Literal(ch), (c, _) =>
                {
                    var now = DateTimeOffset.UtcNow;
                    lock (e.first) e.first.TryAdd(c.ToString(), now);
                });
        }
        return e;
    }

    public void Reset() { lock (first) first.Clear(); }

    public DateTimeOffset? First(string channel) { lock (first) return first.TryGetValue(channel, out var t) ? t : null; }

    public async Task<DateTimeOffset> WaitAsync(string channel, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (First(channel) is { } t) return t;
            await Task.Delay(5);
        }
        throw new TimeoutException($"no {channel} within {timeout.TotalSeconds:0}s");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in muxes) await m.DisposeAsync();
    }
}
