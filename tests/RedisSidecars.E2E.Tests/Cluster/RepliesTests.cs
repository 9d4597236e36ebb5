using RedisSidecars.E2E.Cluster;

namespace RedisSidecars.E2E.Tests.Cluster;

public class RepliesTests
{
    static readonly PodAddress[] Pods = [new("redis-0", "10.244.1.5"), new("redis-1", "10.244.2.7"), new("redis-2", null)];

    [Theory]
    [InlineData("redis-1.redis-headless.e2e.svc.cluster.local\n6379\n", "redis-1.redis-headless.e2e.svc.cluster.local", 6379)]
    [InlineData("10.244.1.5\r\n6379", "10.244.1.5", 6379)]
    public void MasterAddress_TwoLines(string stdout, string host, int port) => Assert.Equal((host, port), Replies.MasterAddress(stdout));

    [Theory]
    [InlineData("")]
    [InlineData("\n")] // nil reply
    [InlineData("host\nport\n")]
    [InlineData("ERR No such master with that name\n")]
    public void MasterAddress_Other_IsNull(string stdout) => Assert.Null(Replies.MasterAddress(stdout));

    [Fact]
    public void SwitchMasterLine_Message_IsParsed()
    {
        var s = Replies.SwitchMasterLine("\"message\",\"+switch-master\",\"mymaster redis-0.h.e2e.svc.cluster.local 6379 redis-1.h.e2e.svc.cluster.local 6379\"");
        Assert.Equal(new SwitchMaster("mymaster", "redis-0.h.e2e.svc.cluster.local", 6379, "redis-1.h.e2e.svc.cluster.local", 6379), s);
    }

    [Theory]
    [InlineData("\"subscribe\",\"+switch-master\",1")]
    [InlineData("\"message\",\"+sdown\",\"master mymaster 10.0.0.1 6379\"")]
    [InlineData("\"message\",\"+switch-master\",\"mymaster a 6379 b\"")]
    [InlineData("\"message\",\"+switch-master\",\"unterminated")]
    [InlineData("Reading messages... (press Ctrl-C to quit)")]
    public void SwitchMasterLine_Other_IsNull(string line) => Assert.Null(Replies.SwitchMasterLine(line));

    [Fact]
    public void CsvFields_QuotesEscapesAndNumbers() =>
        Assert.Equal(["a,b", "say \"hi\"", "3"], Replies.CsvFields("\"a,b\",\"say \\\"hi\\\"\",3")!);

    [Fact]
    public void RoleAndServerAddress_FromRoleThenClientInfo()
    {
        var (role, ip) = Replies.RoleAndServerAddress("master\n1234\n10.244.2.7\n6379\n1234\nid=7 addr=10.244.3.9:51234 laddr=10.244.1.5:6379 fd=9 name= age=0\n");
        Assert.Equal(("master", "10.244.1.5"), (role, ip));
        Assert.Equal(("slave", null), Replies.RoleAndServerAddress("slave\nredis-0\n6379\nconnected\n5\n"));
    }

    [Theory]
    [InlineData("10.0.0.1:6379", "10.0.0.1")]
    [InlineData("[fd00::1]:6379", "fd00::1")]
    [InlineData("fd00::1:6379", "fd00::1")]
    public void HostOf_StripsThePort(string hostPort, string host) => Assert.Equal(host, Replies.HostOf(hostPort));

    [Theory]
    [InlineData("redis-1.redis-headless.e2e.svc.cluster.local", "redis-1")]
    [InlineData("10.244.1.5", "redis-0")]
    [InlineData("redis-2", "redis-2")]
    [InlineData("10.244.9.9", null)]
    [InlineData("redis-3.redis-headless", null)]
    public void PodOf_DnsNameNameOrIp(string host, string? pod) => Assert.Equal(pod, Replies.PodOf(host, Pods));

    [Fact]
    public void RoleAndKeys_FirstLineRoleThenKeys()
    {
        var (role, keys) = Replies.RoleAndKeys("master\np:1\np:2\n\n");
        Assert.Equal("master", role);
        Assert.Equal(new HashSet<string> { "p:1", "p:2" }, keys);
    }
}
