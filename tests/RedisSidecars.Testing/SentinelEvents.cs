using StackExchange.Redis;

namespace RedisSidecars.Testing;

/// <summary>One Sentinel event as <see cref="SentinelEvents"/> received it (wall clock at arrival).</summary>
public sealed record SentinelEvent(DateTimeOffset At, Node Sentinel, string Channel, string Message);

/// <summary>
/// Subscribes to every Sentinel and keeps every event of the given kinds (<c>+promoted-slave</c>, <c>+switch-master</c>, …)
/// since the last reset, with its arrival time: the benchmark's and the demo's view of Sentinel's own timing.
/// </summary>
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
            {
                // A connection the Sentinel has just dropped reconnects by itself: subscribe once it is back.
                await set.WaitUntilAsync(async () =>
                {
                    try
                    {
                        await mux.GetSubscriber().SubscribeAsync(RedisChannel.Literal(ch), (c, m) =>
                        {
                            var now = DateTimeOffset.UtcNow;
                            lock (e.seen) e.seen.Add(new SentinelEvent(now, s, c.ToString(), m.ToString()));
                        });
                        return true;
                    }
                    catch (RedisConnectionException) { return false; }
                }, TimeSpan.FromSeconds(10), $"subscribed to {ch} on {s.Name}", poll: TimeSpan.FromMilliseconds(100));
            }
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

    public async Task<SentinelEvent> WaitAsync(string channel, TimeSpan timeout, Node? sentinel = null, CancellationToken ct = default)
    {
        await set.WaitUntilAsync(() => Task.FromResult(First(channel, sentinel) is not null), timeout,
            $"{channel}{(sentinel is null ? "" : " from " + sentinel.Name)}", ct, poll: TimeSpan.FromMilliseconds(5));
        return First(channel, sentinel)!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in muxes) await m.DisposeAsync();
    }
}
