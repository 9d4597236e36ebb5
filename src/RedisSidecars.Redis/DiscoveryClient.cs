using System.Globalization;
using System.Net.Sockets;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Settings;
using StackExchange.Redis;

namespace RedisSidecars.Redis;

/// <summary>Asks Sentinels and Redis peers (one short-lived connection each, all in parallel).</summary>
public interface IDiscoveryClient
{
    Task<IReadOnlyList<SentinelAnswer>> AskSentinelsAsync(IReadOnlyList<NodeAddress> sentinels, TimeSpan timeout, CancellationToken ct);
    Task<IReadOnlyList<PeerAnswer>> AskPeersAsync(IReadOnlyList<NodeAddress> peers, TimeSpan timeout, CancellationToken ct);
}

public sealed class DiscoveryClient(CommonSettings settings, string clientName) : IDiscoveryClient
{
    public async Task<IReadOnlyList<SentinelAnswer>> AskSentinelsAsync(IReadOnlyList<NodeAddress> sentinels, TimeSpan timeout, CancellationToken ct) =>
        await Task.WhenAll(sentinels.Select(s => AskSentinelAsync(s, timeout, ct))).ConfigureAwait(false);

    public async Task<IReadOnlyList<PeerAnswer>> AskPeersAsync(IReadOnlyList<NodeAddress> peers, TimeSpan timeout, CancellationToken ct) =>
        await Task.WhenAll(peers.Select(p => AskPeerAsync(p, timeout, ct))).ConfigureAwait(false);

    async Task<SentinelAnswer> AskSentinelAsync(NodeAddress sentinel, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            if (await ProbeAsync(sentinel, timeout, ct).ConfigureAwait(false) is { } down) return SentinelAnswer.Failed(sentinel, down);
            await using var mux = await ConnectionMultiplexer.ConnectAsync(RedisEndpoints.ForSentinel(sentinel, settings, timeout, clientName))
                .WaitAsync(timeout, ct).ConfigureAwait(false);
            var server = mux.GetServer(RedisEndpoints.ToEndPoint(sentinel));
            var addr = await server.ExecuteAsync("SENTINEL", "get-master-addr-by-name", settings.MasterSetName).WaitAsync(timeout, ct).ConfigureAwait(false);
            if (addr.IsNull) return SentinelAnswer.Failed(sentinel, $"does not know master set '{settings.MasterSetName}'");
            var master = SentinelReplies.ParseAddress(addr, out var err);
            if (master is null) return SentinelAnswer.Failed(sentinel, err!);
            var info = await server.ExecuteAsync("SENTINEL", "master", settings.MasterSetName).WaitAsync(timeout, ct).ConfigureAwait(false);
            var flags = SentinelReplies.Field(info, "flags") ?? "";
            return new SentinelAnswer(sentinel, master, flags.Contains("failover_in_progress", StringComparison.Ordinal));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return SentinelAnswer.Failed(sentinel, RedisEndpoints.Describe(e));
        }
    }

    /// <summary>
    /// A plain TCP connect first: a refused connection or an unknown name is known at once, where
    /// StackExchange.Redis reports it only after its connect cycle (about a second). Null = reachable.
    /// </summary>
    static async Task<string?> ProbeAsync(NodeAddress node, TimeSpan timeout, CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(RedisEndpoints.ToEndPoint(node), cts.Token).ConfigureAwait(false);
            return null;
        }
        catch (SocketException e) { return $"unreachable ({e.SocketErrorCode})"; }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return "unreachable (connect timed out)"; }
    }

    async Task<PeerAnswer> AskPeerAsync(NodeAddress peer, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            if (await ProbeAsync(peer, timeout, ct).ConfigureAwait(false) is { } down) return PeerAnswer.Failed(peer, down);
            await using var mux = await ConnectionMultiplexer.ConnectAsync(RedisEndpoints.ForRedis(peer, settings, timeout, clientName))
                .WaitAsync(timeout, ct).ConfigureAwait(false);
            var server = mux.GetServer(RedisEndpoints.ToEndPoint(peer));
            var role = await server.ExecuteAsync("ROLE").WaitAsync(timeout, ct).ConfigureAwait(false);
            var keyspace = await server.ExecuteAsync("INFO", "keyspace").WaitAsync(timeout, ct).ConfigureAwait(false);
            var answer = SentinelReplies.ParseRole(peer, role);
            return answer with { HoldsData = SentinelReplies.KeyspaceHasKeys(keyspace.ToString()) };
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return PeerAnswer.Failed(peer, RedisEndpoints.Describe(e));
        }
    }
}

/// <summary>Parsing and validation of replies that come from the network.</summary>
public static class SentinelReplies
{
    /// <summary>A [host, port] reply, validated as host/IP + port.</summary>
    public static NodeAddress? ParseAddress(RedisResult reply, out string? error)
    {
        error = null;
        if (reply.Resp2Type != ResultType.Array || reply.Length != 2) { error = "malformed address reply"; return null; }
        var host = (string?)reply[0];
        var portText = (string?)reply[1];
        if (!long.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port)) port = -1;
        if (NodeAddress.TryCreate(host, port, out var a, out var e)) return a;
        error = "invalid address in reply: " + e;
        return null;
    }

    /// <summary>A field of a flat [k, v, k, v, …] reply.</summary>
    public static string? Field(RedisResult reply, string name)
    {
        if (reply.Resp2Type != ResultType.Array) return null;
        for (var i = 0; i + 1 < reply.Length; i += 2)
            if ((string?)reply[i] == name) return (string?)reply[i + 1];
        return null;
    }

    public static PeerAnswer ParseRole(NodeAddress peer, RedisResult role)
    {
        if (role.Resp2Type != ResultType.Array || role.Length < 1) return PeerAnswer.Failed(peer, "malformed ROLE reply");
        switch ((string?)role[0])
        {
            case "master":
                var offset = role.Length > 1 ? (long)role[1] : 0;
                var replicas = role.Length > 2 && role[2].Resp2Type == ResultType.Array ? role[2].Length : 0;
                return new PeerAnswer(peer, PeerRole.Master, replicas, offset);
            case "slave":
                if (role.Length < 5) return PeerAnswer.Failed(peer, "malformed ROLE reply");
                var port = long.TryParse((string?)role[2], NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : -1;
                NodeAddress? of = NodeAddress.TryCreate((string?)role[1], port, out var m, out _) ? m : null;
                return new PeerAnswer(peer, PeerRole.Replica, 0, (long)role[4], of);
            default:
                return new PeerAnswer(peer, PeerRole.Other);
        }
    }

    /// <summary>True when an <c>INFO keyspace</c> reply lists a database with keys.</summary>
    public static bool KeyspaceHasKeys(string? info) =>
        (info ?? "").Split('\n').Any(l => l.StartsWith("db", StringComparison.Ordinal) && l.Contains("keys=", StringComparison.Ordinal) && !l.Contains("keys=0,", StringComparison.Ordinal));
}
