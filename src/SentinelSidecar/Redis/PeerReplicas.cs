using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using StackExchange.Redis;

namespace RedisSidecars.Sidecar.Redis;

/// <summary>
/// The other Redis pods of the set, asked directly for their own replication offset (<c>ROLE</c>) during a handover's
/// catch-up. The master's <c>INFO</c> shows a replica's offset only as that replica last acknowledged it (REPLCONF ACK,
/// once a second), so waiting on it costs up to a second with writes paused; the replica itself knows at once.
/// One connection per peer, opened when a handover starts and closed when it ends.
/// </summary>
public sealed class PeerReplicas : IReplicaOffsets
{
    static readonly TimeSpan CallTimeout = TimeSpan.FromMilliseconds(500);
    readonly List<(NodeAddress Node, ConnectionMultiplexer Mux)> peers;
    readonly CommonSettings settings;

    PeerReplicas(List<(NodeAddress, ConnectionMultiplexer)> peers, CommonSettings settings) { this.peers = peers; this.settings = settings; }

    /// <summary>Connects to every peer in parallel; a peer that cannot be reached is left out (never throws).</summary>
    public static async Task<PeerReplicas> OpenAsync(SidecarSettings s)
    {
        var nodes = s.Common.RedisNodes.Where(n => !s.Common.IsMe(n)).ToArray();
        var muxes = await Task.WhenAll(nodes.Select(async n =>
        {
            try { return await ConnectionMultiplexer.ConnectAsync(RedisEndpoints.ForRedis(n, s.Common, CallTimeout, $"redis-sidecar-{s.Common.PodName}")).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException) { return null; } // refused, timed out, TLS or auth: left out
        })).ConfigureAwait(false);
        return new PeerReplicas([.. nodes.Zip(muxes).Where(p => p.Second is not null).Select(p => (p.First, p.Second!))], s.Common);
    }

    /// <summary>One ROLE per peer, in parallel; a peer that does not answer promptly, or replicates another node, is left out.</summary>
    public async Task<IReadOnlyList<long>> ReadOffsetsAsync(CancellationToken ct)
    {
        var roles = await Task.WhenAll(peers.Select(async p =>
        {
            try { return await p.Mux.GetServer(RedisEndpoints.ToEndPoint(p.Node)).RoleAsync().WaitAsync(CallTimeout, ct).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested) { return null; }
        })).ConfigureAwait(false);
        return [.. roles.OfType<Role.Replica>()
            .Where(r => r.State == "connected" && NodeAddress.TryCreate(r.MasterIp, r.MasterPort, out var master, out _) && settings.IsMe(master))
            .Select(r => r.ReplicationOffset)];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, mux) in peers) await mux.DisposeAsync().ConfigureAwait(false);
    }
}
