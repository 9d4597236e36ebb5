using System.Net;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Settings;
using StackExchange.Redis;

namespace RedisSidecars.Redis;

/// <summary>Builds StackExchange.Redis options for one node: auth, TLS, short explicit timeouts, no backlog.</summary>
public static class RedisEndpoints
{
    public static ConfigurationOptions ForRedis(NodeAddress node, CommonSettings s, TimeSpan timeout, string clientName) =>
        Build(node, timeout, clientName, s.Tls, sentinel: false, user: s.RedisUsername, password: s.RedisPassword);

    public static ConfigurationOptions ForSentinel(NodeAddress node, CommonSettings s, TimeSpan timeout, string clientName) =>
        Build(node, timeout, clientName, s.Tls, sentinel: true, user: null, password: s.SentinelPassword);

    static ConfigurationOptions Build(NodeAddress node, TimeSpan timeout, string clientName, TlsSettings? tls, bool sentinel, string? user, Secret? password)
    {
        var ms = (int)Math.Clamp(timeout.TotalMilliseconds, 50, int.MaxValue);
        var o = new ConfigurationOptions
        {
            AbortOnConnectFail = true,
            ConnectRetry = 1,
            ConnectTimeout = ms,
            SyncTimeout = ms,
            AsyncTimeout = ms,
            KeepAlive = 5,
            AllowAdmin = true,
            ClientName = clientName,
            BacklogPolicy = BacklogPolicy.FailFast,
            TieBreaker = "",
            ConfigurationChannel = "",
            Protocol = RedisProtocol.Resp2,
            // The .NET thread pool instead of the library's ten dedicated socket threads per process: a handful of
            // connections with a few replies a second need no threads of their own (measured at rest: those threads
            // spun on sched_yield and took most of the sidecar's CPU, and their stacks most of its thread count).
            SocketManager = SocketManager.ThreadPool,
        };
        o.EndPoints.Add(ToEndPoint(node));
        if (sentinel) o.CommandMap = CommandMap.Sentinel;
        if (user is not null && user != "default") o.User = user;
        if (password is not null) o.Password = password.Reveal();
        if (tls is not null)
        {
            o.Ssl = true;
            o.SslHost = node.Host;
            o.TrustIssuer(tls.CaFile);
            o.SetUserPemCertificate(tls.CertFile, tls.KeyFile);
        }
        return o;
    }

    public static EndPoint ToEndPoint(NodeAddress node) =>
        IPAddress.TryParse(node.Host, out var ip) ? new IPEndPoint(ip, node.Port) : new DnsEndPoint(node.Host, node.Port);

    /// <summary>A short, secret-free description of a failure, for one log line.</summary>
    public static string Describe(Exception e) => e switch
    {
        RedisConnectionException rce when rce.FailureType == ConnectionFailureType.AuthenticationFailure => "authentication failed",
        RedisConnectionException rce => $"unreachable ({rce.FailureType})",
        RedisTimeoutException or TimeoutException => "timed out",
        RedisServerException rse => "server error: " + FirstLine(rse.Message),
        OperationCanceledException => "cancelled",
        _ => e.GetType().Name,
    };

    static string FirstLine(string s)
    {
        var i = s.IndexOfAny(['\r', '\n']);
        return NodeAddress.Printable(i < 0 ? s : s[..i]);
    }
}
