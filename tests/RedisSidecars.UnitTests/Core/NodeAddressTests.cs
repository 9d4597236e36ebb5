using RedisSidecars.Core.Addressing;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class NodeAddressTests
{
    [Theory]
    [InlineData("127.0.1.1:6379", null, "127.0.1.1", 6379, "127.0.1.1:6379")]
    [InlineData("[::1]:6379", null, "::1", 6379, "[::1]:6379")]
    [InlineData("[FD00:0:0::1]:26379", null, "fd00::1", 26379, "[fd00::1]:26379")]
    [InlineData("[::1]", 6379, "::1", 6379, "[::1]:6379")]
    [InlineData("redis-0.redis-headless.default.svc.cluster.local:6379", null, "redis-0.redis-headless.default.svc.cluster.local", 6379, "redis-0.redis-headless.default.svc.cluster.local:6379")]
    [InlineData("Redis-0.Example.COM:1", null, "redis-0.example.com", 1, "redis-0.example.com:1")]
    [InlineData("localhost", 26379, "localhost", 26379, "localhost:26379")]
    [InlineData("  10.0.0.1:65535  ", null, "10.0.0.1", 65535, "10.0.0.1:65535")]
    public void TryParse_ValidText_HostPortAndCanonicalFormat(string text, int? defaultPort, string host, int port, string formatted)
    {
        Assert.True(NodeAddress.TryParse(text, defaultPort, out var a, out var error), error);

        Assert.Equal(host, a.Host);
        Assert.Equal(port, a.Port);
        Assert.Equal(formatted, a.ToString());
        // What ToString prints parses back to the same address.
        Assert.True(NodeAddress.TryParse(a.ToString(), null, out var again, out _));
        Assert.Equal(a, again);
    }

    [Fact]
    public void ToConfigTokens_IPv6_HostAndPortWithoutBrackets()
    {
        Assert.True(NodeAddress.TryParse("[fd00::1]:6379", null, out var a, out _));

        Assert.True(a.IsIPv6);
        Assert.Equal("fd00::1 6379", a.ToConfigTokens());
    }

    [Fact]
    public void Equals_DifferentCase_EqualWithSameHash()
    {
        var lower = new NodeAddress("redis-0.example", 6379);
        var upper = new NodeAddress("REDIS-0.Example", 6379);

        Assert.Equal(lower, upper);
        Assert.True(lower == upper);
        Assert.Equal(lower.GetHashCode(), upper.GetHashCode());
        Assert.NotEqual(lower, new NodeAddress("redis-0.example", 6380));
        Assert.NotEqual(lower, new NodeAddress("redis-1.example", 6379));
    }

    [Theory]
    [InlineData("bad host:6379")]
    [InlineData("-x.example:6379")]
    [InlineData("x-.example:6379")]
    [InlineData("a..b:6379")]
    [InlineData(".example:6379")]
    [InlineData("under_score.example:6379")]
    [InlineData("a\nb:6379")]
    [InlineData("a\tb:6379")]
    [InlineData("a\u0000b:6379")]
    [InlineData("a\u007fb:6379")]
    [InlineData("ex\u00e4mple.com:6379")]
    [InlineData("1.2.3:6379")]
    [InlineData("256.1.1.1:6379")]
    [InlineData("::1:6379")]
    [InlineData("[::1:6379")]
    [InlineData("[::1]6379")]
    [InlineData("a:b")]
    [InlineData("host:99999")]
    [InlineData("host:0")]
    [InlineData("host:")]
    [InlineData("host:+1")]
    [InlineData(":6379")]
    [InlineData("host")]
    [InlineData("")]
    [InlineData("   ")]
    public void TryParse_Malformed_FalseWithPrintableError(string text)
    {
        Assert.False(NodeAddress.TryParse(text, null, out _, out var error));

        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void TryParse_HostOver253Characters_Rejected()
    {
        var labels = "b" + string.Join('.', Enumerable.Repeat(new string('a', 59), 5)); // 300 characters, each label valid
        Assert.Equal(300, labels.Length);

        Assert.False(NodeAddress.TryParse(labels + ":6379", null, out _, out _));
        Assert.True(NodeAddress.TryParse(labels[..253].TrimEnd('.') + ":6379", null, out _, out var error), error);
    }

    [Fact]
    public void TryParse_Label64Characters_Rejected()
    {
        Assert.False(NodeAddress.TryParse(new string('a', 64) + ".example:6379", null, out _, out _));
        Assert.True(NodeAddress.TryParse(new string('a', 63) + ".example:6379", null, out _, out _));
    }

    [Theory]
    [InlineData("1.2.3.4\nreplicaof evil 1")]
    [InlineData("1.2.3.4 6379")]
    [InlineData("evil.example\r\nrequirepass x")]
    [InlineData("evil.example\n")]
    [InlineData(" evil.example")]
    [InlineData("::1%1\nreplicaof evil 1")]
    [InlineData("::1%eth0 x")]
    [InlineData("")]
    [InlineData(null)]
    public void TryCreate_HostWithSpacesOrLineBreaks_RejectedWithoutEchoingControlCharacters(string? host)
    {
        Assert.False(NodeAddress.TryCreate(host, 6379, out _, out var error));

        Assert.DoesNotContain("\n", error);
        Assert.DoesNotContain("\r", error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    [InlineData(long.MaxValue)]
    public void TryCreate_PortOutOfRange_Rejected(long port) =>
        Assert.False(NodeAddress.TryCreate("127.0.0.1", port, out _, out _));

    [Fact]
    public void Constructor_InvalidHost_Throws()
    {
        Assert.Throws<ArgumentException>(() => new NodeAddress("bad host", 6379));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeAddress("good", 0));
    }

    [Theory]
    [InlineData("a:1,b:2", "a:1|b:2")]
    [InlineData(" a:1 , [::1]:2 ", "a:1|[::1]:2")]
    [InlineData("a,b", "a:6379|b:6379")]
    public void TryParseList_Valid_InOrder(string text, string expected)
    {
        Assert.True(NodeAddress.TryParseList(text, 6379, out var list, out var error), error);

        Assert.Equal(expected, string.Join('|', list));
    }

    [Theory]
    [InlineData(",", "empty")]
    [InlineData("", "empty")]
    [InlineData("a:1,,b:2", "empty element")]
    [InlineData("a:1,A:1", "twice")]
    [InlineData("a:1,::1:6379", "ambiguous")]
    public void TryParseList_Malformed_ErrorSaysWhy(string text, string why)
    {
        Assert.False(NodeAddress.TryParseList(text, 6379, out _, out var error));

        Assert.Contains(why, error);
    }

    [Fact]
    public void Printable_ControlCharactersAndLongText_ReplacedAndShortened()
    {
        Assert.Equal("a?b", NodeAddress.Printable("a\nb"));
        Assert.Equal(new string('x', 80) + "…", NodeAddress.Printable(new string('x', 100)));
        Assert.Equal("(null)", NodeAddress.Printable(null));
    }
}
