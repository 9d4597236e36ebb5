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
            return await AskAsync(mux.GetServer(RedisEndpoints.ToEndPoint(sentinel)), sentinel, settings.MasterSetName, timeout, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return SentinelAnswer.Failed(sentinel, RedisEndpoints.Describe(e));
        }
    }

    /// <summary>
    /// One Sentinel's answer: <c>get-master-addr-by-name</c> and <c>SENTINEL MASTER</c> sent together on one connection
    /// (see <see cref="RedisReplies.Sentinel"/> for why the address and the epoch come from these two). Never throws
    /// but for cancellation: a Sentinel that does not answer is an answer with an error.
    /// </summary>
    public static async Task<SentinelAnswer> AskAsync(IServer server, NodeAddress sentinel, string setName, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            var address = server.SentinelGetMasterAddressByNameAsync(setName);
            var master = server.SentinelMasterAsync(setName);
            var endPoint = await address.WaitAsync(timeout, ct).ConfigureAwait(false);
            KeyValuePair<string, string>[]? fields = null;
            if (endPoint is not null) fields = await master.WaitAsync(timeout, ct).ConfigureAwait(false);
            else _ = master.ContinueWith(t => t.Exception, TaskScheduler.Default); // an unknown set also fails SENTINEL MASTER
            return RedisReplies.Sentinel(sentinel, endPoint, fields, setName);
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
            var role = server.RoleAsync();
            var keyspace = server.InfoAsync("keyspace");
            return RedisReplies.Peer(peer, await role.WaitAsync(timeout, ct).ConfigureAwait(false), await keyspace.WaitAsync(timeout, ct).ConfigureAwait(false));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return PeerAnswer.Failed(peer, RedisEndpoints.Describe(e));
        }
    }
}
