using System.Globalization;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using StackExchange.Redis;

namespace RedisSidecars.Sidecar.Redis;

/// <summary>Replication as the master reports it: its offset and its online replicas' offsets.</summary>
public sealed record ReplicationInfo(long MasterOffset, IReadOnlyList<(NodeAddress Replica, long Offset)> OnlineReplicas);

/// <summary>The Redis in this pod.</summary>
public interface ILocalRedis : IAsyncDisposable
{
    Task<LocalRedisState> ReadStateAsync(CancellationToken ct);
    Task<ReplicationInfo> ReadReplicationAsync(CancellationToken ct);
    /// <summary>Disconnects ordinary clients so pooled connections reconnect through the Service.</summary>
    Task KillNormalClientsAsync(CancellationToken ct);
    Task PauseWritesAsync(TimeSpan duration, CancellationToken ct);
    Task UnpauseAsync(CancellationToken ct);
    /// <summary><c>REPLICAOF host port</c>: what Sentinel would do to an old master, done at once during a handover.</summary>
    Task ReplicateAsync(NodeAddress master, CancellationToken ct);
}

public sealed class LocalRedisClient : ILocalRedis
{
    static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(1);
    readonly ConnectionMultiplexer mux;
    readonly NodeAddress node;

    LocalRedisClient(ConnectionMultiplexer mux, NodeAddress node) { this.mux = mux; this.node = node; }

    public static async Task<LocalRedisClient> ConnectAsync(SidecarSettings s)
    {
        var o = RedisEndpoints.ForRedis(s.LocalRedis, s.Common, CallTimeout, $"redis-sidecar-{s.Common.PodName}");
        o.AbortOnConnectFail = false;
        o.ConnectRetry = 3;
        o.ReconnectRetryPolicy = new ExponentialRetry(100, 2000);
        return new LocalRedisClient(await ConnectionMultiplexer.ConnectAsync(o).ConfigureAwait(false), s.LocalRedis);
    }

    IServer Server => mux.GetServer(RedisEndpoints.ToEndPoint(node));

    async Task<RedisResult> ExecAsync(CancellationToken ct, string command, params object[] args) =>
        await Server.ExecuteAsync(command, args).WaitAsync(CallTimeout, ct).ConfigureAwait(false);

    public async Task<LocalRedisState> ReadStateAsync(CancellationToken ct)
    {
        try
        {
            if (!mux.IsConnected) return LocalRedisState.Unreachable("not connected");
            // One round trip (multi-section INFO, Redis >= 7.0): a killed or hung connection costs one timeout, not three.
            var info = Parse((await ExecAsync(ct, "INFO", "replication", "persistence").ConfigureAwait(false)).ToString());
            var loading = info.GetValueOrDefault("loading") == "1";
            switch (info.GetValueOrDefault("role"))
            {
                case "master":
                    return new LocalRedisState(LocalRole.Master, Loading: loading, Offset: Long(info.GetValueOrDefault("master_repl_offset")));
                case "slave":
                    NodeAddress? of = NodeAddress.TryCreate(info.GetValueOrDefault("master_host"), Long(info.GetValueOrDefault("master_port")), out var m, out _) ? m : null;
                    return new LocalRedisState(LocalRole.Replica, of,
                        LinkUp: info.GetValueOrDefault("master_link_status") == "up",
                        Syncing: info.GetValueOrDefault("master_sync_in_progress") == "1",
                        Loading: loading,
                        Offset: Long(info.GetValueOrDefault("slave_repl_offset")));
                default:
                    return LocalRedisState.Unreachable("unexpected INFO reply (no role)");
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return LocalRedisState.Unreachable(RedisEndpoints.Describe(e));
        }
    }

    public async Task<ReplicationInfo> ReadReplicationAsync(CancellationToken ct)
    {
        var info = Parse((await ExecAsync(ct, "INFO", "replication").ConfigureAwait(false)).ToString());
        var replicas = new List<(NodeAddress, long)>();
        foreach (var (key, value) in info)
        {
            if (!key.StartsWith("slave", StringComparison.Ordinal) || !char.IsAsciiDigit(key[^1])) continue;
            var fields = value.Split(',').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
            if (fields.GetValueOrDefault("state") != "online") continue;
            if (NodeAddress.TryCreate(fields.GetValueOrDefault("ip"), Long(fields.GetValueOrDefault("port")), out var r, out _))
                replicas.Add((r, Long(fields.GetValueOrDefault("offset"))));
        }
        return new ReplicationInfo(Long(info.GetValueOrDefault("master_repl_offset")), replicas);
    }

    public async Task KillNormalClientsAsync(CancellationToken ct) => await ExecAsync(ct, "CLIENT", "KILL", "TYPE", "normal").ConfigureAwait(false);

    public async Task PauseWritesAsync(TimeSpan duration, CancellationToken ct) =>
        await ExecAsync(ct, "CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "WRITE").ConfigureAwait(false);

    public async Task UnpauseAsync(CancellationToken ct) => await ExecAsync(ct, "CLIENT", "UNPAUSE").ConfigureAwait(false);

    public async Task ReplicateAsync(NodeAddress master, CancellationToken ct) =>
        await ExecAsync(ct, "REPLICAOF", master.Host, master.Port.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);

    static Dictionary<string, string> Parse(string info)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in info.Split('\n'))
        {
            var l = line.TrimEnd('\r');
            var i = l.IndexOf(':');
            if (i > 0 && l[0] != '#') d[l[..i]] = l[(i + 1)..];
        }
        return d;
    }

    static long Long(string? s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;

    public async ValueTask DisposeAsync() => await mux.DisposeAsync().ConfigureAwait(false);
}
