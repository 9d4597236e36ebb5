using RedisSidecars.Testing;
using StackExchange.Redis;

namespace RedisSidecars.Demo;

/// <summary>
/// One kept connection to a node for the table's polling (four times a second, and every 10 ms while a failover is
/// measured), through StackExchange.Redis's typed calls. A failed call drops the connection and is tried once more on a
/// fresh one: a demoted master's sidecar kills normal clients (CLIENT KILL TYPE normal), which must not show as "down".
/// </summary>
public sealed class NodeClient(RedisSet set, Node node) : IAsyncDisposable
{
    static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(750); // generous: a busy 2-core machine must not show "down"
    readonly SemaphoreSlim gate = new(1, 1);
    ConnectionMultiplexer? mux;

    public Node Node => node;

    /// <summary>The call's result, or the error that ended the second attempt ("no answer" on a timeout).</summary>
    public async Task<(T? Value, string? Error)> TryAsync<T>(Func<IServer, Task<T>> call, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var fresh = mux is null;
                try
                {
                    mux ??= await set.ConnectAsync(node, (int)Timeout.TotalMilliseconds, ct);
                    return (await call(mux.GetServer(node.Ip, node.Port)).WaitAsync(Timeout, ct), null);
                }
                catch (RedisServerException e) { return (default, e.Message.Split(' ')[0]); } // an error reply: the connection is fine
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    await DropAsync();
                    if (fresh || attempt > 0) return (default, e is TimeoutException or RedisTimeoutException ? "no answer" : "down");
                }
            }
        }
        finally { gate.Release(); }
    }

    async Task DropAsync()
    {
        if (mux is not null) await mux.DisposeAsync();
        mux = null;
    }

    public async ValueTask DisposeAsync()
    {
        await gate.WaitAsync();
        try { await DropAsync(); } finally { gate.Release(); }
    }
}
