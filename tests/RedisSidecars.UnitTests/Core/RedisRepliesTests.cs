using System.Net;
using System.Net.Sockets;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Roles;
using RedisSidecars.Redis;
using Xunit;
using static RedisSidecars.UnitTests.Core.Topology;

namespace RedisSidecars.UnitTests.Core;

/// <summary>
/// The reply layer against the typed values StackExchange.Redis hands it. <c>ROLE</c> arrives as
/// <c>StackExchange.Redis.Role</c>, whose constructors are internal: <see cref="RedisReplies.Peer"/> is covered by the
/// integration tests against real servers (redis-init asking its peers), not here.
/// </summary>
public sealed class RedisRepliesTests
{
    /// <summary>An INFO reply as StackExchange.Redis groups it: <c># Section</c> headers, <c>key:value</c> split at the first colon.</summary>
    public static IGrouping<string, KeyValuePair<string, string>>[] Info(string text)
    {
        var section = "";
        var pairs = new List<(string Section, KeyValuePair<string, string> Pair)>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith('#')) { section = line.TrimStart('#', ' '); continue; }
            var colon = line.IndexOf(':');
            if (colon > 0) pairs.Add((section, new(line[..colon], line[(colon + 1)..])));
        }
        return pairs.GroupBy(p => p.Section, p => p.Pair).ToArray();
    }

    /// <summary>The endpoint StackExchange.Redis builds from a host and port a server sent: an IP literal or a DNS name.</summary>
    static EndPoint EndPoint(string host, int port) =>
        IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);

    // Captured from redis-server 7.0 (a master with one replica attached, and that replica).
    const string MasterInfo = """
        # Persistence
        loading:0
        async_loading:0
        rdb_bgsave_in_progress:0

        # Stats
        total_connections_received:3
        slave_expires_tracked_keys:0

        # Replication
        role:master
        connected_slaves:1
        slave0:ip=127.0.0.1,port=6390,state=online,offset=50,lag=1
        master_failover_state:no-failover
        master_replid:16c6daff12c741e87c949d121ea500bd6098833e
        master_repl_offset:50
        second_repl_offset:-1
        """;

    const string ReplicaInfo = """
        # Persistence
        loading:0

        # Replication
        role:slave
        master_host:127.0.77.1
        master_port:6390
        master_link_status:up
        master_last_io_seconds_ago:2
        master_sync_in_progress:0
        slave_read_repl_offset:50
        slave_repl_offset:50
        slave_priority:100
        slave_read_only:1
        replica_announced:1
        connected_slaves:0
        """;

    // --- ToNode: every address a server reports is validated ---

    [Theory]
    [InlineData("127.0.1.1", 6379, "127.0.1.1:6379")]
    [InlineData("Redis-0.Redis-Headless.default.svc.cluster.local", 6380, "redis-0.redis-headless.default.svc.cluster.local:6380")]
    [InlineData("fd00::1", 6379, "[fd00::1]:6379")]
    [InlineData("::ffff:127.0.1.1", 6379, "[::ffff:127.0.1.1]:6379")]
    public void ToNode_ValidHostAndPort_Address(string host, int port, string expected)
    {
        var node = RedisReplies.ToNode(EndPoint(host, port), out var error);

        Assert.Null(error);
        Assert.Equal(expected, node?.ToString());
    }

    [Theory]
    [InlineData("1.2.3.4\nreplicaof evil 1", 6379)]
    [InlineData("1.2.3.4 6379\nreplicaof evil", 6379)]
    [InlineData("evil.example\r\nrequirepass x", 6379)]
    [InlineData("a b", 6379)]
    [InlineData("-leading-dash.example", 6379)]
    [InlineData("under_score.example", 6379)]
    [InlineData("127.0.0.1", 0)]
    [InlineData("redis-0", 0)]
    public void ToNode_InjectedHostOrBadPort_RejectedWithOneLineError(string host, int port)
    {
        // A DnsEndPoint carries any string: this is where a hostile or broken reply is stopped.
        var node = RedisReplies.ToNode(EndPoint(host, port), out var error);

        Assert.Null(node);
        Assert.NotNull(error);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain('\r', error);
    }

    [Fact]
    public void ToNode_IPv6LiteralWithTrailingGarbage_OnlyTheParsedAddressSurvives()
    {
        // IPAddress.TryParse accepts this (StackExchange.Redis then builds an IPEndPoint): what reaches a config file is
        // the address as .NET prints it, never the reply's text.
        var node = RedisReplies.ToNode(EndPoint("::1%1\nreplicaof evil 1", 6379), out var error);

        Assert.Null(error);
        Assert.DoesNotContain(node!.Value.ToConfigTokens(), c => char.IsControl(c));
        Assert.Equal("::1 6379", node.Value.ToConfigTokens());
    }

    [Fact]
    public void ToNode_NoEndPointOrAnotherKind_NoAddress()
    {
        Assert.Null(RedisReplies.ToNode(null, out var e1));
        Assert.Equal("no address", e1);
        Assert.Null(RedisReplies.ToNode(new UnixDomainSocketEndPoint("/tmp/redis.sock"), out var e2));
        Assert.Equal("no address", e2);
    }

    // --- Sentinel: get-master-addr-by-name + SENTINEL MASTER read together ---

    static KeyValuePair<string, string>[] MasterFields(string flags, string epoch, string ip = "127.0.1.1") =>
    [
        new("name", "mymaster"), new("ip", ip), new("port", "6379"), new("flags", flags), new("config-epoch", epoch), new("num-slaves", "2"),
    ];

    [Fact]
    public void Sentinel_AddressAndMasterFields_AddressFromTheAddressReplyEpochFromMaster()
    {
        // At +promoted-slave the leader's get-master-addr-by-name names the promoted replica while SENTINEL MASTER
        // still shows the old ip with the new epoch: the answer pairs the new address with that epoch.
        var a = RedisReplies.Sentinel(SentinelNode(0), EndPoint("127.0.1.2", 6379), MasterFields("master,failover_in_progress", "7"), "mymaster");

        Assert.True(a.Answered);
        Assert.Equal(RedisNode(1), a.Master);
        Assert.Equal(7, a.ConfigEpoch);
        Assert.True(a.FailoverInProgress);
        Assert.Equal(SentinelNode(0), a.Sentinel);
    }

    [Fact]
    public void Sentinel_PlainMasterFlags_NoFailoverInProgress()
    {
        var a = RedisReplies.Sentinel(SentinelNode(1), EndPoint("127.0.1.1", 6379), MasterFields("master", "0"), "mymaster");

        Assert.False(a.FailoverInProgress);
        Assert.Equal(0, a.ConfigEpoch);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("")]
    [InlineData("9999999999999999999999")]
    public void Sentinel_MalformedEpoch_Zero(string epoch)
    {
        var a = RedisReplies.Sentinel(SentinelNode(0), EndPoint("127.0.1.1", 6379), MasterFields("master", epoch), "mymaster");

        Assert.True(a.Answered);
        Assert.Equal(0, a.ConfigEpoch);
    }

    [Fact]
    public void Sentinel_NoMasterFields_AnsweredWithEpochZero()
    {
        var a = RedisReplies.Sentinel(SentinelNode(0), EndPoint("127.0.1.1", 6379), null, "mymaster");

        Assert.True(a.Answered);
        Assert.False(a.FailoverInProgress);
        Assert.Equal(0, a.ConfigEpoch);
    }

    [Fact]
    public void Sentinel_UnknownSet_FailedNamingTheSet()
    {
        var a = RedisReplies.Sentinel(SentinelNode(0), null, null, "mymaster");

        Assert.False(a.Answered);
        Assert.Contains("'mymaster'", a.Error);
    }

    [Theory]
    [InlineData("1.2.3.4\nsentinel monitor evil 1.2.3.4 6379 1", 6379)]
    [InlineData("evil.example\r\nrequirepass x", 6379)]
    [InlineData("127.0.1.1", 0)]
    public void Sentinel_InjectedOrInvalidAddress_FailedWithOneLineError(string host, int port)
    {
        var a = RedisReplies.Sentinel(SentinelNode(0), EndPoint(host, port), MasterFields("master", "3"), "mymaster");

        Assert.False(a.Answered);
        Assert.Null(a.Master);
        Assert.NotNull(a.Error);
        Assert.DoesNotContain('\n', a.Error);
    }

    // --- LocalState: one INFO of the local Redis ---

    [Fact]
    public void LocalState_MasterInfo_RoleOffsetAndReplicas()
    {
        var s = RedisReplies.LocalState(Info(MasterInfo));

        Assert.Equal(LocalRole.Master, s.Role);
        Assert.Equal(50, s.Offset);
        Assert.False(s.Loading);
        var r = Assert.Single(s.Replicas!); // slave_expires_tracked_keys is not a replica
        Assert.Equal("127.0.0.1:6390", r.Address.ToString());
        Assert.True(r.Online);
        Assert.Equal(50, r.Offset);
        Assert.Equal(1, r.LagSeconds);
    }

    [Fact]
    public void LocalState_ReplicaStillInFullSync_NotOnline()
    {
        var s = RedisReplies.LocalState(Info(MasterInfo.Replace("state=online,offset=50", "state=wait_bgsave,offset=0")));

        Assert.Empty(s.OnlineReplicas);
        Assert.Equal("wait_bgsave", Assert.Single(s.Replicas!).State);
    }

    [Fact]
    public void LocalState_SeveralReplicasIncludingIPv6_AllListed()
    {
        var info = MasterInfo.Replace("connected_slaves:1", "connected_slaves:3")
            + "\nslave1:ip=::1,port=6391,state=online,offset=49,lag=0\nslave12:ip=redis-2.redis-headless,port=6379,state=online,offset=48,lag=0";

        var s = RedisReplies.LocalState(Info(info));

        Assert.Equal(["127.0.0.1:6390", "[::1]:6391", "redis-2.redis-headless:6379"], s.Replicas!.Select(r => r.Address.ToString()).Order().ToArray());
    }

    [Theory]
    [InlineData("slave1:ip=1.2.3.4\rreplicaof evil 1,port=6379,state=online,offset=50,lag=0")]
    [InlineData("slave1:ip=a b,port=6379,state=online,offset=50,lag=0")]
    [InlineData("slave1:ip=127.0.0.2,port=0,state=online,offset=50,lag=0")]
    [InlineData("slave1:ip=127.0.0.2,port=x,state=online,offset=50,lag=0")]
    [InlineData("slave1:port=6379,state=online,offset=50,lag=0")]
    public void LocalState_ReplicaLineWithInvalidAddress_Skipped(string line)
    {
        var s = RedisReplies.LocalState(Info(MasterInfo + "\n" + line));

        Assert.Equal("127.0.0.1:6390", Assert.Single(s.Replicas!).Address.ToString());
    }

    [Fact]
    public void LocalState_ReplicaInfo_MasterLinkOffsetAndPriority()
    {
        var s = RedisReplies.LocalState(Info(ReplicaInfo));

        Assert.Equal(LocalRole.Replica, s.Role);
        Assert.Equal("127.0.77.1:6390", s.MasterOf?.ToString());
        Assert.True(s.LinkUp);
        Assert.False(s.Syncing);
        Assert.False(s.Loading);
        Assert.Equal(50, s.Offset);
        Assert.Equal(100, s.ReplicaPriority);
        Assert.True(s.IsHealthyReplica);
    }

    [Theory]
    [InlineData("master_link_status:up", "master_link_status:down")]
    [InlineData("master_sync_in_progress:0", "master_sync_in_progress:1")]
    [InlineData("loading:0", "loading:1")]
    public void LocalState_ReplicaLinkDownSyncingOrLoading_NotHealthy(string from, string to)
    {
        var s = RedisReplies.LocalState(Info(ReplicaInfo.Replace(from, to)));

        Assert.Equal(LocalRole.Replica, s.Role);
        Assert.False(s.IsHealthyReplica);
    }

    [Fact]
    public void LocalState_ReplicaOfInjectedMasterHost_NoMasterAddress()
    {
        var s = RedisReplies.LocalState(Info(ReplicaInfo.Replace("master_host:127.0.77.1", "master_host:1.2.3.4 6379\rreplicaof evil")));

        Assert.Equal(LocalRole.Replica, s.Role);
        Assert.Null(s.MasterOf);
    }

    [Theory]
    [InlineData("slave_priority:0", 0)]
    [InlineData("slave_priority:200", 200)]
    [InlineData("slave_priority:x", -1)]
    public void LocalState_ReplicaPriority_AsReported(string line, int expected)
    {
        Assert.Equal(expected, RedisReplies.LocalState(Info(ReplicaInfo.Replace("slave_priority:100", line))).ReplicaPriority);
    }

    [Fact]
    public void LocalState_ReplicaWithoutPriorityField_Null()
    {
        Assert.Null(RedisReplies.LocalState(Info(ReplicaInfo.Replace("slave_priority:100", ""))).ReplicaPriority);
    }

    [Theory]
    [InlineData("")]
    [InlineData("# Server\nredis_version:7.0.15")]
    [InlineData("# Replication\nrole:sentinel")]
    public void LocalState_NoKnownRole_Unreachable(string info)
    {
        var s = RedisReplies.LocalState(Info(info));

        Assert.Equal(LocalRole.Unknown, s.Role);
        Assert.NotNull(s.Error);
    }

    // --- Probe: TILT from INFO sentinel ---

    [Theory]
    [InlineData("sentinel_tilt:1", true)]
    [InlineData("sentinel_tilt:0", false)]
    [InlineData("sentinel_masters:1", false)]
    public void Probe_InfoSentinel_TiltAsReported(string line, bool tilt)
    {
        var answer = new SentinelAnswer(SentinelNode(2), RedisNode(0), true, null, 4);

        var p = RedisReplies.Probe(answer, Info("# Sentinel\n" + line + "\nsentinel_running_scripts:0"));

        Assert.Equal(tilt, p.Tilt);
        Assert.Equal((SentinelNode(2), RedisNode(0), 4L, true), (p.Sentinel, p.Master!.Value, p.Epoch, p.FailoverInProgress));
        Assert.True(p.Reachable);
    }

    [Fact]
    public void Probe_NoInfo_NotInTilt()
    {
        Assert.False(RedisReplies.Probe(new SentinelAnswer(SentinelNode(0), RedisNode(0), false), null).Tilt);
    }

    [Fact]
    public void Probe_FailedAnswer_Unreachable()
    {
        var p = RedisReplies.Probe(SentinelAnswer.Failed(SentinelNode(0), "timed out"), null);

        Assert.False(p.Reachable);
        Assert.Equal("timed out", p.Error);
    }

    // --- Sentinel messages ---

    [Theory]
    [InlineData("slave 127.0.1.2:6379 127.0.1.2 6379 @ mymaster 127.0.1.1 6379", "127.0.1.2:6379")]
    [InlineData("slave redis-1:6379 Redis-1.Redis-Headless 6379 @ mymaster redis-0 6379", "redis-1.redis-headless:6379")]
    public void PromotedReplica_PromotedSlaveMessage_TheReplica(string message, string expected)
    {
        Assert.Equal(expected, RedisReplies.PromotedReplica(message, "mymaster")?.ToString());
    }

    [Theory]
    [InlineData("slave 127.0.1.2:6379 127.0.1.2 6379 @ othermaster 127.0.1.1 6379")] // another set
    [InlineData("slave 127.0.1.2:6379 127.0.1.2 6379 @ mymaster 127.0.1.1")]          // truncated
    [InlineData("master mymaster 127.0.1.1 6379")]
    [InlineData("slave 127.0.1.2:6379 127.0.1.2 6379 # mymaster 127.0.1.1 6379")]
    [InlineData("slave x 1.2.3.4\nreplicaof 6379 @ mymaster 127.0.1.1 6379")]
    [InlineData("slave x 127.0.1.2 0 @ mymaster 127.0.1.1 6379")]
    [InlineData("")]
    [InlineData(null)]
    public void PromotedReplica_OtherOrMalformedMessage_Null(string? message)
    {
        Assert.Null(RedisReplies.PromotedReplica(message, "mymaster"));
        Assert.Null(RedisReplies.ReplicaEvent(message, "mymaster"));
    }

    [Fact]
    public void ReplicaEvent_WaitPromotionMessage_TheReplicaAndTheMasterItReplaces()
    {
        var e = RedisReplies.ReplicaEvent("slave 127.0.1.2:6379 127.0.1.2 6379 @ mymaster 127.0.1.1 6380", "mymaster");

        Assert.Equal(("127.0.1.2:6379", "127.0.1.1:6380"), (e?.Replica.ToString(), e?.Master.ToString()));
    }

    [Theory]
    [InlineData("master mymaster 127.0.1.1 6379", "127.0.1.1:6379")]                                  // +sdown / -sdown / +reboot of the master
    [InlineData("slave 127.0.1.2:6379 127.0.1.2 6379 @ mymaster 127.0.1.1 6379", "127.0.1.2:6379")]   // of a replica
    [InlineData("sentinel 3f0a 127.0.2.1 26379 @ mymaster 127.0.1.1 6379", null)]                   // a Sentinel is no pod of the set
    [InlineData("master othermaster 127.0.1.1 6379", null)]
    [InlineData("slave 127.0.1.2:6379 127.0.1.2 6379 @ othermaster 127.0.1.1 6379", null)]
    [InlineData("master mymaster 127.0.1.1 6379 #quorum 2/2", null)]                                  // +odown's form: not an instance event
    [InlineData("master mymaster 127.0.1.1 0", null)]
    [InlineData("master mymaster bad\nhost 6379", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void InstanceEvent_TheMasterOrReplicaOfThisSet_OtherwiseNull(string? message, string? expected)
    {
        Assert.Equal(expected, RedisReplies.InstanceEvent(message, "mymaster")?.ToString());
    }

    [Fact]
    public void ReplicaEvent_InvalidMasterAddress_Null()
    {
        Assert.Null(RedisReplies.ReplicaEvent("slave 127.0.1.2:6379 127.0.1.2 6379 @ mymaster 127.0.1.1 0", "mymaster"));
    }

    [Theory]
    [InlineData("mymaster 127.0.1.1 6379 127.0.1.2 6379", true)]
    [InlineData("othermaster 127.0.1.1 6379 127.0.1.2 6379", false)]
    [InlineData("mymaster 127.0.1.1 6379 127.0.1.2", false)]
    [InlineData("mymaster 127.0.1.1 6379 127.0.1.2 6379 extra", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsSwitchOf_SwitchMasterMessage_TrueOnlyForThisSet(string? message, bool expected)
    {
        Assert.Equal(expected, RedisReplies.IsSwitchOf(message, "mymaster"));
    }

    [Fact]
    public void Flatten_SeveralSections_OneMap()
    {
        var d = RedisReplies.Flatten(Info("# Replication\nrole:master\n# Persistence\nloading:1"));

        Assert.Equal("master", d["role"]);
        Assert.Equal("1", d["loading"]);
    }

    // --- SentinelEntry: one row of SENTINEL MASTER / REPLICAS / SENTINELS ---

    static KeyValuePair<string, string>[] Row(params string[] kv) =>
        [.. kv.Chunk(2).Select(p => new KeyValuePair<string, string>(p[0], p[1]))];

    [Fact]
    public void SentinelEntry_ReplicaRow_AddressFlagsLinkMasterAndPriority()
    {
        // Captured from redis-sentinel 7.0 (SENTINEL REPLICAS mymaster, abridged).
        var e = RedisReplies.SentinelEntry(Row("name", "127.0.1.2:6379", "ip", "127.0.1.2", "port", "6379", "runid", "8f1c", "flags", "slave",
            "master-link-status", "ok", "master-host", "127.0.1.1", "master-port", "6379", "slave-priority", "100"));

        Assert.Equal("127.0.1.2:6379", e.Address.ToString());
        Assert.True(e.Plain("slave"));
        Assert.True(e.LinkOk);
        Assert.Equal("127.0.1.1:6379", e.MasterOf.ToString());
        Assert.Equal(100, e.ReplicaPriority);
        Assert.Equal("8f1c", e.RunId);
    }

    [Theory]
    [InlineData("s_down,slave", "slave", false)]
    [InlineData("master,failover_in_progress", "master", false)]
    [InlineData("master", "master", true)]
    [InlineData("", "master", false)]
    public void SentinelEntry_Flags_PlainOnlyWithTheOneRoleFlag(string flags, string role, bool plain)
    {
        var e = RedisReplies.SentinelEntry(Row("flags", flags));

        Assert.Equal(plain, e.Plain(role));
        Assert.Equal(flags, e.FlagText);
    }

    [Fact]
    public void SentinelEntry_LinkDownInjectedHostMissingFields_NoAddressesNotLinked()
    {
        var e = RedisReplies.SentinelEntry(Row("ip", "1.2.3.4\nslaveof evil 6379", "port", "6379", "master-link-status", "err", "master-host", "?"));

        Assert.Null(e.Address);
        Assert.Null(e.MasterOf);
        Assert.False(e.LinkOk);
        Assert.Null(e.ReplicaPriority);
        Assert.Equal(0, e.ConfigEpoch);
    }

    [Fact]
    public void SentinelEntry_MasterRow_ConfigEpoch()
    {
        Assert.Equal(7, RedisReplies.SentinelEntry(MasterFields("master", "7")).ConfigEpoch);
    }

    [Theory]
    [InlineData("sentinel_tilt:1", true)]
    [InlineData("sentinel_tilt:0", false)]
    [InlineData("sentinel_masters:1", false)]
    public void Tilt_InfoSentinel_AsReported(string line, bool tilt)
    {
        Assert.Equal(tilt, RedisReplies.Tilt(Info("# Sentinel\n" + line)));
    }
}
