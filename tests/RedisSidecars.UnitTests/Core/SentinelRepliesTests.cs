using RedisSidecars.Core.Discovery;
using RedisSidecars.Redis;
using StackExchange.Redis;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class SentinelRepliesTests
{
    static RedisResult Bulk(string? s) => RedisResult.Create((RedisValue)s, ResultType.BulkString);
    static RedisResult Int(long n) => RedisResult.Create((RedisValue)n, ResultType.Integer);
    static RedisResult Array(params RedisResult[] items) => RedisResult.Create(items);

    [Theory]
    [InlineData("127.0.1.1", "6379", "127.0.1.1:6379")]
    [InlineData("Redis-0.Redis-Headless.default.svc.cluster.local", "6380", "redis-0.redis-headless.default.svc.cluster.local:6380")]
    [InlineData("fd00::1", "6379", "[fd00::1]:6379")]
    public void ParseAddress_ValidHostAndPort_Address(string host, string port, string expected)
    {
        var a = SentinelReplies.ParseAddress(Array(Bulk(host), Bulk(port)), out var error);

        Assert.Null(error);
        Assert.Equal(expected, a?.ToString());
    }

    [Theory]
    [InlineData("1.2.3.4\nreplicaof evil 1", "6379")]
    [InlineData("1.2.3.4 6379\nreplicaof evil", "6379")]
    [InlineData("evil.example\r\nrequirepass x", "6379")]
    [InlineData("a b", "6379")]
    [InlineData("", "6379")]
    [InlineData("::1%1\nreplicaof evil 1", "6379")]
    [InlineData("127.0.0.1", "0")]
    [InlineData("127.0.0.1", "65536")]
    [InlineData("127.0.0.1", "-1")]
    [InlineData("127.0.0.1", "6379\nreplicaof evil 1")]
    [InlineData("127.0.0.1", "63 79")]
    [InlineData("127.0.0.1", "")]
    public void ParseAddress_InjectedHostOrBadPort_RejectedWithError(string host, string port)
    {
        var a = SentinelReplies.ParseAddress(Array(Bulk(host), Bulk(port)), out var error);

        Assert.Null(a);
        Assert.NotNull(error);
        Assert.DoesNotContain("\n", error);
    }

    [Fact]
    public void ParseAddress_NotATwoElementArray_Rejected()
    {
        Assert.Null(SentinelReplies.ParseAddress(Bulk("127.0.0.1:6379"), out var e1));
        Assert.Equal("malformed address reply", e1);
        Assert.Null(SentinelReplies.ParseAddress(Array(Bulk("127.0.0.1")), out var e2));
        Assert.NotNull(e2);
        Assert.Null(SentinelReplies.ParseAddress(Array(Bulk("127.0.0.1"), Bulk("6379"), Bulk("x")), out var e3));
        Assert.NotNull(e3);
    }

    [Fact]
    public void ParseRole_Master_ReplicaCountAndOffset()
    {
        // ROLE on a master: ["master", offset, [[ip, port, offset], …]]
        var reply = Array(Bulk("master"), Int(3129659), Array(
            Array(Bulk("127.0.1.2"), Bulk("6379"), Bulk("3129242")),
            Array(Bulk("127.0.1.3"), Bulk("6379"), Bulk("3129543"))));

        var p = SentinelReplies.ParseRole(RedisNode(0), reply);

        Assert.True(p.Answered);
        Assert.Equal(PeerRole.Master, p.Role);
        Assert.Equal(2, p.ConnectedReplicas);
        Assert.Equal(3129659, p.Offset);
    }

    [Fact]
    public void ParseRole_MasterWithoutReplicas_ZeroReplicas()
    {
        var p = SentinelReplies.ParseRole(RedisNode(0), Array(Bulk("master"), Int(0), Array()));

        Assert.Equal(PeerRole.Master, p.Role);
        Assert.Equal(0, p.ConnectedReplicas);
    }

    [Fact]
    public void ParseRole_Slave_MasterAddressAndOffset()
    {
        // ROLE on a replica: ["slave", master host, master port, state, offset]
        var reply = Array(Bulk("slave"), Bulk("127.0.1.1"), Int(6379), Bulk("connected"), Int(3167038));

        var p = SentinelReplies.ParseRole(RedisNode(1), reply);

        Assert.True(p.Answered);
        Assert.Equal(PeerRole.Replica, p.Role);
        Assert.Equal(RedisNode(0), p.ReplicaOf);
        Assert.Equal(3167038, p.Offset);
    }

    [Fact]
    public void ParseRole_SlaveOfInjectedHost_ReplicaWithoutMaster()
    {
        var reply = Array(Bulk("slave"), Bulk("1.2.3.4\nreplicaof evil 1"), Int(6379), Bulk("connected"), Int(1));

        var p = SentinelReplies.ParseRole(RedisNode(1), reply);

        Assert.Equal(PeerRole.Replica, p.Role);
        Assert.Null(p.ReplicaOf);
    }

    [Fact]
    public void ParseRole_TruncatedSlaveReply_Failed()
    {
        var p = SentinelReplies.ParseRole(RedisNode(1), Array(Bulk("slave"), Bulk("127.0.1.1"), Int(6379)));

        Assert.False(p.Answered);
    }

    [Fact]
    public void ParseRole_Sentinel_Other()
    {
        var p = SentinelReplies.ParseRole(SentinelNode(0), Array(Bulk("sentinel"), Array(Bulk("mymaster"))));

        Assert.True(p.Answered);
        Assert.Equal(PeerRole.Other, p.Role);
    }

    [Fact]
    public void ParseRole_NotAnArray_Failed()
    {
        Assert.False(SentinelReplies.ParseRole(RedisNode(0), Bulk("master")).Answered);
        Assert.False(SentinelReplies.ParseRole(RedisNode(0), Array()).Answered);
    }

    [Theory]
    [InlineData("# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0,subexpiry=0\r\n", true)]
    [InlineData("# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\n", true)]
    [InlineData("# Keyspace\r\ndb0:keys=0,expires=0,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n", true)]
    [InlineData("# Keyspace\r\ndb0:keys=0,expires=0,avg_ttl=0\r\n", false)]
    [InlineData("# Keyspace\r\n", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void KeyspaceHasKeys_InfoKeyspace_TrueOnlyWhenSomeDbHasKeys(string? info, bool expected) =>
        Assert.Equal(expected, SentinelReplies.KeyspaceHasKeys(info));

    [Fact]
    public void Field_FlatKeyValueReply_Value()
    {
        var reply = Array(Bulk("name"), Bulk("mymaster"), Bulk("flags"), Bulk("master,failover_in_progress"));

        Assert.Equal("master,failover_in_progress", SentinelReplies.Field(reply, "flags"));
        Assert.Null(SentinelReplies.Field(reply, "missing"));
    }
}
