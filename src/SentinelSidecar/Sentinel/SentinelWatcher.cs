using System.Globalization;
using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using RedisSidecars.Sidecar.Hosting;
using StackExchange.Redis;

namespace RedisSidecars.Sidecar.Sentinel;

/// <summary>A <c>+switch-master</c> announcement with the config epoch read back from the announcing Sentinel.</summary>
public sealed record SwitchEvent(NodeAddress Sentinel, NodeAddress NewMaster, long Epoch, long ReceivedTimestamp);

/// <summary>The Sentinels as the sidecar sees them: a poll of all, failover events, and the FAILOVER command.</summary>
public interface ISentinelWatcher : IAsyncDisposable
{
    Task StartAsync(Func<SwitchEvent, Task> onSwitch, Action onOtherEvent, CancellationToken ct);
    Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct);
    /// <summary>Asks the Sentinels, one after another, to fail over; the name of the one that accepted, or null.</summary>
    Task<string?> FailoverAsync(CancellationToken ct);
}

/// <summary>One long-lived StackExchange.Redis connection per Sentinel (reconnects with backoff by itself).</summary>
public sealed class SentinelWatcher(CommonSettings settings, ILogger logger, TimeProvider time) : ISentinelWatcher
{
    static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(1);
    static readonly string[] OtherEvents = ["+failover-end", "+odown", "-odown", "+sdown", "-sdown", "+failover-state-reconf-slaves", "+reset-master", "+config-update-from"];
    readonly List<(NodeAddress Node, ConnectionMultiplexer Mux)> sentinels = [];

    public async Task StartAsync(Func<SwitchEvent, Task> onSwitch, Action onOtherEvent, CancellationToken ct)
    {
        foreach (var node in settings.SentinelNodes)
        {
            var o = RedisEndpoints.ForSentinel(node, settings, CallTimeout, $"redis-sidecar-{settings.PodName}");
            o.AbortOnConnectFail = false;
            o.ConnectRetry = 3;
            o.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
            var mux = await ConnectionMultiplexer.ConnectAsync(o).ConfigureAwait(false);
            sentinels.Add((node, mux));
            var sub = mux.GetSubscriber();
            await Subscribe(sub, "+switch-master", (channel, message) => _ = HandleSwitchAsync(node, mux, message, onSwitch)).ConfigureAwait(false);
            foreach (var name in OtherEvents)
                await Subscribe(sub, name, (_, _) => onOtherEvent()).ConfigureAwait(false);
        }
    }

    async Task Subscribe(ISubscriber sub, string channel, Action<RedisChannel, RedisValue> handler)
    {
        try { await sub.SubscribeAsync(RedisChannel.Literal(channel), handler).ConfigureAwait(false); }
        catch (Exception e)
        {
            // Not connected yet: StackExchange.Redis keeps the subscription and restores it when it connects.
            Log.SentinelProblem(logger, channel, "subscribe deferred: " + RedisEndpoints.Describe(e));
        }
    }

    async Task HandleSwitchAsync(NodeAddress sentinel, ConnectionMultiplexer mux, RedisValue message, Func<SwitchEvent, Task> onSwitch)
    {
        var received = time.GetTimestamp();
        try
        {
            // "<name> <old-ip> <old-port> <new-ip> <new-port>": only the set name is taken from the message. The
            // master and its config epoch are read back together from the announcing Sentinel, so a late
            // announcement of an older failover can never be paired with a newer epoch.
            var parts = ((string?)message ?? "").Split(' ');
            if (parts.Length != 5 || parts[0] != settings.MasterSetName) return;
            var info = await mux.GetServer(RedisEndpoints.ToEndPoint(sentinel))
                .ExecuteAsync("SENTINEL", "master", settings.MasterSetName).WaitAsync(CallTimeout).ConfigureAwait(false);
            var port = long.TryParse(SentinelReplies.Field(info, "port"), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : -1;
            if (!NodeAddress.TryCreate(SentinelReplies.Field(info, "ip"), port, out var newMaster, out var err))
            {
                Log.SentinelProblem(logger, sentinel.ToString(), "ignored +switch-master: invalid master address in SENTINEL MASTER: " + err);
                return;
            }
            if (!long.TryParse(SentinelReplies.Field(info, "config-epoch"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)) return;
            await onSwitch(new SwitchEvent(sentinel, newMaster, epoch, received)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.SentinelProblem(logger, sentinel.ToString(), "could not read the master after +switch-master: " + RedisEndpoints.Describe(e));
        }
    }

    public async Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct) =>
        await Task.WhenAll(sentinels.Select(s => AskAsync(s.Node, s.Mux, ct))).ConfigureAwait(false);

    async Task<SentinelAnswer> AskAsync(NodeAddress node, ConnectionMultiplexer mux, CancellationToken ct)
    {
        try
        {
            if (!mux.IsConnected) return SentinelAnswer.Failed(node, "not connected");
            var r = await mux.GetServer(RedisEndpoints.ToEndPoint(node))
                .ExecuteAsync("SENTINEL", "master", settings.MasterSetName).WaitAsync(CallTimeout, ct).ConfigureAwait(false);
            var ip = SentinelReplies.Field(r, "ip");
            var portText = SentinelReplies.Field(r, "port");
            var port = long.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : -1;
            if (!NodeAddress.TryCreate(ip, port, out var master, out var err)) return SentinelAnswer.Failed(node, "invalid master address: " + err);
            var epoch = long.TryParse(SentinelReplies.Field(r, "config-epoch"), NumberStyles.None, CultureInfo.InvariantCulture, out var e) ? e : 0;
            var flags = SentinelReplies.Field(r, "flags") ?? "";
            return new SentinelAnswer(node, master, flags.Contains("failover_in_progress", StringComparison.Ordinal), null, epoch);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return SentinelAnswer.Failed(node, RedisEndpoints.Describe(e));
        }
    }

    public async Task<string?> FailoverAsync(CancellationToken ct)
    {
        foreach (var (node, mux) in sentinels)
        {
            try
            {
                if (!mux.IsConnected) continue;
                var r = await mux.GetServer(RedisEndpoints.ToEndPoint(node))
                    .ExecuteAsync("SENTINEL", "failover", settings.MasterSetName).WaitAsync(CallTimeout, ct).ConfigureAwait(false);
                if (r.ToString() == "OK") return node.ToString();
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Log.SentinelProblem(logger, node.ToString(), "FAILOVER refused: " + RedisEndpoints.Describe(e));
            }
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, mux) in sentinels) await mux.DisposeAsync().ConfigureAwait(false);
        sentinels.Clear();
    }
}
