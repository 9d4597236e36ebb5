using System.Globalization;
using System.Net;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Roles;
using StackExchange.Redis;

namespace RedisSidecars.Redis;

/// <summary>
/// The one place where replies from Redis and Sentinel become our records. Every reply arrives through
/// StackExchange.Redis's typed server calls (<c>SENTINEL get-master-addr-by-name</c>, <c>SENTINEL MASTER</c>,
/// <c>INFO</c>, <c>ROLE</c>); addresses from the network are validated here before anything uses them. Used by both
/// programs, the test harness, the benchmark and the demo.
/// </summary>
public static class RedisReplies
{
    /// <summary>An INFO reply (any sections) as one key → value map.</summary>
    public static Dictionary<string, string> Flatten(IEnumerable<IGrouping<string, KeyValuePair<string, string>>> info)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var section in info)
            foreach (var (key, value) in section) d[key] = value;
        return d;
    }

    /// <summary>A validated node from an endpoint a server reported (null with an error when it is not a valid host/port).</summary>
    public static NodeAddress? ToNode(EndPoint? endPoint, out string? error)
    {
        error = null;
        var (host, port) = endPoint switch
        {
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint dns => (dns.Host, dns.Port),
            null => (null, 0),
            _ => (null, 0),
        };
        if (host is null) { error = "no address"; return null; }
        if (NodeAddress.TryCreate(host, port, out var node, out var e)) return node;
        error = "invalid address: " + e;
        return null;
    }

    static NodeAddress? ToNode(string? host, string? port) =>
        NodeAddress.TryCreate(host, Long(port, -1), out var node, out _) ? node : null;

    /// <summary>The local Redis from its <c>INFO replication</c> and <c>persistence</c> sections (or a full INFO).</summary>
    public static LocalRedisState LocalState(IEnumerable<IGrouping<string, KeyValuePair<string, string>>> info)
    {
        var d = Flatten(info);
        var loading = d.GetValueOrDefault("loading") == "1";
        switch (d.GetValueOrDefault("role"))
        {
            case "master":
                var replicas = new List<ReplicaLink>();
                foreach (var (key, value) in d)
                {
                    // slave0:ip=10.0.0.2,port=6379,state=online,offset=1234,lag=0
                    if (!key.StartsWith("slave", StringComparison.Ordinal) || key.Length < 6 || !key.Skip(5).All(char.IsAsciiDigit)) continue;
                    var fields = value.Split(',').Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
                    if (ToNode(fields.GetValueOrDefault("ip"), fields.GetValueOrDefault("port")) is { } node)
                        replicas.Add(new ReplicaLink(node, fields.GetValueOrDefault("state") ?? "", Long(fields.GetValueOrDefault("offset")), Long(fields.GetValueOrDefault("lag"), -1)));
                }
                return new LocalRedisState(LocalRole.Master, Loading: loading, Offset: Long(d.GetValueOrDefault("master_repl_offset")), Replicas: replicas);
            case "slave":
                return new LocalRedisState(LocalRole.Replica,
                    MasterOf: ToNode(d.GetValueOrDefault("master_host"), d.GetValueOrDefault("master_port")),
                    LinkUp: d.GetValueOrDefault("master_link_status") == "up",
                    Syncing: d.GetValueOrDefault("master_sync_in_progress") == "1",
                    Loading: loading,
                    Offset: Long(d.GetValueOrDefault("slave_repl_offset")),
                    ReplicaPriority: d.TryGetValue("slave_priority", out var p) ? (int)Long(p, -1) : null);
            default:
                return LocalRedisState.Unreachable("unexpected INFO reply (no role)");
        }
    }

    /// <summary>A peer's <c>ROLE</c>, with whether it holds keys (<c>INFO keyspace</c>).</summary>
    public static PeerAnswer Peer(NodeAddress peer, Role role, IEnumerable<IGrouping<string, KeyValuePair<string, string>>> keyspace)
    {
        var holdsData = Flatten(keyspace).Any(kv => kv.Key.StartsWith("db", StringComparison.Ordinal) && !kv.Value.StartsWith("keys=0,", StringComparison.Ordinal));
        return role switch
        {
            Role.Master m => new PeerAnswer(peer, PeerRole.Master, m.Replicas.Count, m.ReplicationOffset, HoldsData: holdsData),
            Role.Replica r => new PeerAnswer(peer, PeerRole.Replica, 0, r.ReplicationOffset, ToNode(r.MasterIp, r.MasterPort.ToString(CultureInfo.InvariantCulture)), holdsData),
            _ => new PeerAnswer(peer, PeerRole.Other, HoldsData: holdsData),
        };
    }

    /// <summary>
    /// One Sentinel's view of the set, from <c>get-master-addr-by-name</c> and <c>SENTINEL MASTER</c> read together on one
    /// connection. The address comes from get-master-addr-by-name, which names the promoted replica from the moment of
    /// the promotion, while <c>SENTINEL MASTER</c> keeps the old address until the switch but has already moved its
    /// config epoch: pairing its address with its epoch would give the old master a new epoch.
    /// </summary>
    public static SentinelAnswer Sentinel(NodeAddress sentinel, EndPoint? masterAddress, KeyValuePair<string, string>[]? master, string setName)
    {
        if (masterAddress is null) return SentinelAnswer.Failed(sentinel, $"does not know master set '{setName}'");
        if (ToNode(masterAddress, out var error) is not { } node) return SentinelAnswer.Failed(sentinel, error!);
        var entry = SentinelEntry(master ?? []);
        return new SentinelAnswer(sentinel, node, entry.HasFlag("failover_in_progress"), null, entry.ConfigEpoch);
    }

    /// <summary>One row of <c>SENTINEL MASTER</c>, <c>SENTINEL REPLICAS</c> or <c>SENTINEL SENTINELS</c>, as StackExchange.Redis types it.</summary>
    public static SentinelEntry SentinelEntry(KeyValuePair<string, string>[] fields)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in fields) d[key] = value;
        var flags = (d.GetValueOrDefault("flags") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        return new SentinelEntry(
            ToNode(d.GetValueOrDefault("ip"), d.GetValueOrDefault("port")),
            flags,
            d.GetValueOrDefault("runid") ?? "",
            Long(d.GetValueOrDefault("config-epoch")),
            ToNode(d.GetValueOrDefault("master-host"), d.GetValueOrDefault("master-port")),
            d.GetValueOrDefault("master-link-status") == "ok",
            d.TryGetValue("slave-priority", out var p) || d.TryGetValue("replica-priority", out p) ? (int)Long(p, -1) : null);
    }

    /// <summary>Whether a Sentinel is in TILT, from its <c>INFO sentinel</c>.</summary>
    public static bool Tilt(IEnumerable<IGrouping<string, KeyValuePair<string, string>>> sentinelInfo) =>
        Flatten(sentinelInfo).GetValueOrDefault("sentinel_tilt") == "1";

    /// <summary>A Sentinel as a handover sees it: its answer plus whether it is in TILT (<c>INFO sentinel</c>).</summary>
    public static SentinelProbe Probe(SentinelAnswer answer, IEnumerable<IGrouping<string, KeyValuePair<string, string>>>? sentinelInfo) =>
        new(answer.Sentinel, answer.Error, answer.Master, answer.ConfigEpoch,
            sentinelInfo is not null && Tilt(sentinelInfo), answer.FailoverInProgress);

    /// <summary>The promoted replica named by a <c>+promoted-slave</c> message: <c>slave &lt;name&gt; &lt;ip&gt; &lt;port&gt; @ &lt;set&gt; &lt;ip&gt; &lt;port&gt;</c>.</summary>
    public static NodeAddress? PromotedReplica(string? message, string setName) => ReplicaEvent(message, setName)?.Replica;

    /// <summary>
    /// The replica and its master named by a replica's event (<c>+promoted-slave</c>, <c>+failover-state-wait-promotion</c>):
    /// <c>slave &lt;name&gt; &lt;ip&gt; &lt;port&gt; @ &lt;set&gt; &lt;master-ip&gt; &lt;master-port&gt;</c>; null for another set or a malformed message.
    /// </summary>
    public static (NodeAddress Replica, NodeAddress Master)? ReplicaEvent(string? message, string setName)
    {
        var parts = (message ?? "").Split(' ');
        if (parts.Length != 8 || parts[0] != "slave" || parts[4] != "@" || parts[5] != setName) return null;
        return ToNode(parts[2], parts[3]) is { } replica && ToNode(parts[6], parts[7]) is { } master ? (replica, master) : null;
    }

    /// <summary>
    /// The Redis instance of this set an instance event (<c>+sdown</c>, <c>-sdown</c>, <c>+reboot</c>) names: a master
    /// (<c>master &lt;set&gt; &lt;ip&gt; &lt;port&gt;</c>) or a replica (as <see cref="ReplicaEvent"/>); null for a Sentinel, another
    /// set or a malformed message.
    /// </summary>
    public static NodeAddress? InstanceEvent(string? message, string setName)
    {
        var parts = (message ?? "").Split(' ');
        if (parts.Length == 4 && parts[0] == "master" && parts[1] == setName) return ToNode(parts[2], parts[3]);
        return ReplicaEvent(message, setName)?.Replica;
    }

    /// <summary>The set name of a <c>+switch-master</c> message: <c>&lt;set&gt; &lt;old-ip&gt; &lt;old-port&gt; &lt;new-ip&gt; &lt;new-port&gt;</c>.</summary>
    public static bool IsSwitchOf(string? message, string setName)
    {
        var parts = (message ?? "").Split(' ');
        return parts.Length == 5 && parts[0] == setName;
    }

    static long Long(string? s, long fallback = 0) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}
