using System.Globalization;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using StackExchange.Redis;

namespace RedisSidecars.Sidecar.Redis;

/// <summary>A command to the local Redis failed (any fault: refused, timed out, hung connection, error reply); the message is secret-free.</summary>
public sealed class LocalRedisException(string message) : Exception(message);

/// <summary>The Redis in this pod. Commands throw only <see cref="LocalRedisException"/> (or cancellation).</summary>
public interface ILocalRedis : IAsyncDisposable
{
    /// <summary><c>INFO replication</c> and <c>persistence</c>: role, replication (with the replicas' offsets on a master), loading, priority. Never throws but for cancellation.</summary>
    Task<LocalRedisState> ReadStateAsync(CancellationToken ct);
    /// <summary>Disconnects ordinary clients so pooled connections reconnect through the Service.</summary>
    Task KillNormalClientsAsync(CancellationToken ct);
    /// <summary><c>CLIENT PAUSE ms WRITE</c>: it expires by itself, so a caller that needs it longer renews it.</summary>
    Task PauseWritesAsync(TimeSpan duration, CancellationToken ct);
    Task UnpauseAsync(CancellationToken ct);
    /// <summary><c>REPLICAOF host port</c>: what Sentinel would do to an old master, done at once during a handover.</summary>
    Task ReplicateAsync(NodeAddress master, CancellationToken ct);
    Task SetReplicaPriorityAsync(int priority, CancellationToken ct);
    /// <summary><c>min-replicas-max-lag</c> and <c>min-replicas-to-write</c> in one CONFIG SET (the fence, and its lifting).</summary>
    Task SetWriteQuorumAsync(int minReplicas, int maxLagSeconds, CancellationToken ct);
    /// <summary>The current <c>min-replicas-to-write</c> (to find a fence an earlier run of the sidecar left).</summary>
    Task<int> ReadMinReplicasToWriteAsync(CancellationToken ct);
    /// <summary>Connections to the other Redis pods, to read their own replication offsets during a handover. Never throws.</summary>
    Task<IReplicaOffsets> ConnectReplicasAsync();
}

/// <summary>The replicas' own replication offsets, read directly (see <see cref="PeerReplicas"/>).</summary>
public interface IReplicaOffsets : IAsyncDisposable
{
    /// <summary>The offsets of the peers that answer promptly as replicas of this pod, link up. Never throws but for cancellation.</summary>
    Task<IReadOnlyList<long>> ReadOffsetsAsync(CancellationToken ct);
}

public sealed class LocalRedisClient : ILocalRedis
{
    static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(1);
    readonly ConnectionMultiplexer mux;
    readonly SidecarSettings settings;
    readonly NodeAddress node;

    LocalRedisClient(ConnectionMultiplexer mux, SidecarSettings settings) { this.mux = mux; this.settings = settings; node = settings.LocalRedis; }

    public static async Task<LocalRedisClient> ConnectAsync(SidecarSettings s)
    {
        var o = RedisEndpoints.ForRedis(s.LocalRedis, s.Common, CallTimeout, $"redis-sidecar-{s.Common.PodName}");
        o.AbortOnConnectFail = false;
        o.ConnectRetry = 3;
        o.ReconnectRetryPolicy = new ExponentialRetry(100, 2000);
        o.HeartbeatInterval = Sentinel.SentinelWatcher.HeartbeatEvery; // every call has its own timeout (see there)
        return new LocalRedisClient(await ConnectionMultiplexer.ConnectAsync(o).ConfigureAwait(false), s);
    }

    IServer Server => mux.GetServer(RedisEndpoints.ToEndPoint(node));

    public async Task<LocalRedisState> ReadStateAsync(CancellationToken ct)
    {
        try
        {
            if (!mux.IsConnected) return LocalRedisState.Unreachable("not connected");
            // Only the two sections it reads (Redis 6 takes one section per INFO), sent together: one round trip, so a
            // killed or hung connection costs one timeout, and a tenth of the full INFO to parse once a second.
            var server = Server;
            var replication = server.InfoAsync("replication");
            var persistence = server.InfoAsync("persistence");
            await Task.WhenAll(replication, persistence).WaitAsync(CallTimeout, ct).ConfigureAwait(false);
            return RedisReplies.LocalState([.. replication.Result, .. persistence.Result]);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return LocalRedisState.Unreachable(RedisEndpoints.Describe(e));
        }
    }

    public Task KillNormalClientsAsync(CancellationToken ct) =>
        RunAsync("CLIENT KILL TYPE normal", () => Server.ClientKillAsync(new ClientKillFilter().WithClientType(ClientType.Normal).WithSkipMe(true)), ct);

    public Task PauseWritesAsync(TimeSpan duration, CancellationToken ct) =>
        RunAsync("CLIENT PAUSE", () => Server.ExecuteAsync("CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "WRITE"), ct);

    public Task UnpauseAsync(CancellationToken ct) => RunAsync("CLIENT UNPAUSE", () => Server.ExecuteAsync("CLIENT", "UNPAUSE"), ct);

    public Task ReplicateAsync(NodeAddress master, CancellationToken ct) =>
        RunAsync("REPLICAOF", () => Server.ReplicaOfAsync(RedisEndpoints.ToEndPoint(master)), ct);

    public Task SetReplicaPriorityAsync(int priority, CancellationToken ct) =>
        RunAsync("CONFIG SET replica-priority", () => Server.ConfigSetAsync("replica-priority", priority), ct);

    public Task SetWriteQuorumAsync(int minReplicas, int maxLagSeconds, CancellationToken ct) =>
        RunAsync("CONFIG SET min-replicas-to-write", () => Server.ExecuteAsync("CONFIG", "SET",
            "min-replicas-max-lag", maxLagSeconds.ToString(CultureInfo.InvariantCulture),
            "min-replicas-to-write", minReplicas.ToString(CultureInfo.InvariantCulture)), ct);

    public async Task<int> ReadMinReplicasToWriteAsync(CancellationToken ct)
    {
        KeyValuePair<string, string>[] pairs = [];
        await RunAsync("CONFIG GET min-replicas-to-write", async () => pairs = await Server.ConfigGetAsync("min-replicas-to-write").ConfigureAwait(false), ct).ConfigureAwait(false);
        return pairs.Length == 1 && int.TryParse(pairs[0].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    public async Task<IReplicaOffsets> ConnectReplicasAsync() => await PeerReplicas.OpenAsync(settings).ConfigureAwait(false);

    async Task RunAsync(string what, Func<Task> command, CancellationToken ct)
    {
        try { await command().WaitAsync(CallTimeout, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // StackExchange.Redis reports a hung or killed connection in several ways (timeouts, InvalidOperationException, …).
            throw new LocalRedisException($"{what}: {RedisEndpoints.Describe(e)}");
        }
    }

    public async ValueTask DisposeAsync() => await mux.DisposeAsync().ConfigureAwait(false);
}
