using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using StackExchange.Redis;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Sentinel;

/// <summary>
/// A failover signal from one Sentinel (<c>+promoted-slave</c> from the leader, <c>+switch-master</c> from every
/// Sentinel), with the master and config epoch read back together from that Sentinel at once.
/// </summary>
public sealed record FailoverSignal(NodeAddress Sentinel, string Kind, NodeAddress NewMaster, long Epoch, long ReceivedTimestamp);

/// <summary>
/// <c>+failover-state-wait-promotion</c> from the Sentinel leading a failover: it has sent <c>SLAVEOF NO ONE</c> to
/// <paramref name="Replica"/>, which replaces <paramref name="Master"/>. From here on every write the old master takes is
/// lost (it will resynchronise from the new one), though Sentinel names the promotion only once the replica's next INFO
/// shows it (<c>+promoted-slave</c>, 0.1–1.1 s later).
/// </summary>
public sealed record PromotionStarted(NodeAddress Sentinel, NodeAddress Master, NodeAddress Replica);

/// <summary>
/// What became of a SENTINEL FAILOVER: accepted (OK), refused (an error reply, or never sent), or unknown (sent, but no
/// reply in time or the connection dropped): an unknown answer may have been accepted and is treated like one.
/// </summary>
public enum FailoverAnswer { Accepted, Refused, Unknown }

/// <summary>The Sentinels as the sidecar sees them: signals, polls, probes for a handover, and the FAILOVER command.</summary>
public interface ISentinels : IAsyncDisposable
{
    /// <summary>
    /// Connects and subscribes. <paramref name="onInstanceEvent"/>: a Redis instance of the set went down, came back or
    /// restarted (<c>+sdown</c>, <c>-sdown</c>, <c>+reboot</c>; the event's name and the instance); such events also wake
    /// (<paramref name="onOtherEvent"/>).
    /// </summary>
    Task StartAsync(Func<FailoverSignal, Task> onSignal, Action<PromotionStarted> onPromotion, Action onOtherEvent,
        Action<string, NodeAddress> onInstanceEvent, CancellationToken ct);
    /// <summary>Every Sentinel's answer (one round trip each, in parallel). Never throws but for cancellation.</summary>
    Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct);
    /// <summary>Every Sentinel's answer plus whether it is in TILT. Never throws but for cancellation.</summary>
    Task<IReadOnlyList<SentinelProbe>> ProbeAllAsync(CancellationToken ct);
    /// <summary>One Sentinel's answer (no TILT check): cheap enough to ask every few tens of milliseconds.</summary>
    Task<SentinelProbe> ProbeAsync(NodeAddress sentinel, CancellationToken ct);
    /// <summary>SENTINEL FAILOVER on one Sentinel.</summary>
    Task<(FailoverAnswer Answer, string Detail)> FailoverAsync(NodeAddress sentinel, CancellationToken ct);
    /// <summary>That Sentinel's replicas of the set (SENTINEL REPLICAS: flags, link, the <c>replica-priority</c> it last read); null when it did not answer.</summary>
    Task<IReadOnlyList<SentinelEntry>?> ReplicasAsync(NodeAddress sentinel, CancellationToken ct);
}

/// <summary>One long-lived StackExchange.Redis connection per Sentinel (reconnects with backoff by itself).</summary>
public sealed class SentinelWatcher(CommonSettings settings, ILogger logger, TimeProvider time) : ISentinels
{
    static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(5);
    /// <summary>Events that only wake the loop (the poll that follows reads the state they announce).</summary>
    static readonly string[] OtherEvents =
    [
        "+failover-end", "+failover-end-for-timeout", "+odown", "-odown", "+try-failover",
        "+failover-state-send-slaveof-noone", "+failover-state-reconf-slaves", "-failover-abort-not-elected",
        "-failover-abort-no-good-slave", "-failover-abort-slave-timeout", "+reset-master", "+config-update-from",
        "+tilt", "-tilt", "+convert-to-slave",
    ];
    /// <summary>Events that name an instance going down, coming back or restarting: they wake the loop, and more (see <see cref="ISentinels.StartAsync"/>).</summary>
    static readonly string[] InstanceEvents = ["+sdown", "-sdown", "+reboot"];
    readonly List<(NodeAddress Node, ConnectionMultiplexer Mux)> sentinels = [];

    public async Task StartAsync(Func<FailoverSignal, Task> onSignal, Action<PromotionStarted> onPromotion, Action onOtherEvent,
        Action<string, NodeAddress> onInstanceEvent, CancellationToken ct)
    {
        foreach (var node in settings.SentinelNodes)
        {
            var o = RedisEndpoints.ForSentinel(node, settings, CallTimeout, $"redis-sidecar-{settings.PodName}");
            o.AbortOnConnectFail = false;
            o.ConnectRetry = 3;
            o.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
            // Every call has its own timeout here; the library's heartbeat only sends the keep-alive PING and notices
            // a dead connection, so once every few seconds is enough (once a second, it was a wake-up a second each).
            o.HeartbeatInterval = HeartbeatEvery;
            var mux = await ConnectionMultiplexer.ConnectAsync(o).ConfigureAwait(false);
            // A Sentinel lost or back: ask every Sentinel at once rather than at the next steady poll.
            mux.ConnectionFailed += (_, _) => onOtherEvent();
            mux.ConnectionRestored += (_, _) => onOtherEvent();
            sentinels.Add((node, mux));
            var sub = mux.GetSubscriber();
            await SubscribeAsync(sub, "+promoted-slave", (channel, message) =>
            {
                if (RedisReplies.PromotedReplica(message, settings.MasterSetName) is not null) _ = SignalAsync(node, mux, "+promoted-slave", onSignal);
            }).ConfigureAwait(false);
            await SubscribeAsync(sub, "+failover-state-wait-promotion", (channel, message) =>
            {
                if (RedisReplies.ReplicaEvent(message, settings.MasterSetName) is { } e) onPromotion(new PromotionStarted(node, e.Master, e.Replica));
            }).ConfigureAwait(false);
            await SubscribeAsync(sub, "+switch-master", (channel, message) =>
            {
                if (RedisReplies.IsSwitchOf(message, settings.MasterSetName)) _ = SignalAsync(node, mux, "+switch-master", onSignal);
            }).ConfigureAwait(false);
            foreach (var name in OtherEvents)
                await SubscribeAsync(sub, name, (_, _) => onOtherEvent()).ConfigureAwait(false);
            foreach (var name in InstanceEvents)
                await SubscribeAsync(sub, name, (_, message) =>
                {
                    onOtherEvent();
                    if (RedisReplies.InstanceEvent(message, settings.MasterSetName) is { } instance) onInstanceEvent(name, instance);
                }).ConfigureAwait(false);
        }
    }

    async Task SubscribeAsync(ISubscriber sub, string channel, Action<RedisChannel, RedisValue> handler)
    {
        try { await sub.SubscribeAsync(RedisChannel.Literal(channel), handler).ConfigureAwait(false); }
        catch (Exception e)
        {
            // Not connected yet: StackExchange.Redis keeps the subscription and restores it when it connects.
            Log.SentinelProblem(logger, channel, "subscribe deferred: " + RedisEndpoints.Describe(e));
        }
    }

    /// <summary>
    /// Reads the master and its epoch back from the Sentinel that signalled, together (see <see cref="RedisReplies.Sentinel"/>):
    /// a late announcement of an older failover can never be paired with a newer epoch, and at <c>+promoted-slave</c> the
    /// leader already names the promoted replica.
    /// </summary>
    async Task SignalAsync(NodeAddress sentinel, ConnectionMultiplexer mux, string kind, Func<FailoverSignal, Task> onSignal)
    {
        var received = time.GetTimestamp();
        var answer = await DiscoveryClient.AskAsync(mux.GetServer(RedisEndpoints.ToEndPoint(sentinel)), sentinel, settings.MasterSetName, CallTimeout, CancellationToken.None).ConfigureAwait(false);
        if (!answer.Answered)
        {
            Log.SentinelProblem(logger, sentinel.ToString(), $"could not read the master after {kind}: {answer.Error}");
            return;
        }
        try { await onSignal(new FailoverSignal(sentinel, kind, answer.Master!.Value, answer.ConfigEpoch, received)).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SentinelProblem(logger, sentinel.ToString(), $"{kind} not applied: {e.GetType().Name}");
        }
    }

    public async Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct) =>
        await Task.WhenAll(sentinels.Select(s => AskAsync(s.Node, s.Mux, ct))).ConfigureAwait(false);

    Task<SentinelAnswer> AskAsync(NodeAddress node, ConnectionMultiplexer mux, CancellationToken ct) =>
        mux.IsConnected
            ? DiscoveryClient.AskAsync(mux.GetServer(RedisEndpoints.ToEndPoint(node)), node, settings.MasterSetName, CallTimeout, ct)
            : Task.FromResult(SentinelAnswer.Failed(node, "not connected"));

    public async Task<IReadOnlyList<SentinelProbe>> ProbeAllAsync(CancellationToken ct) =>
        await Task.WhenAll(sentinels.Select(s => ProbeAsync(s.Node, s.Mux, withTilt: true, ct))).ConfigureAwait(false);

    public Task<SentinelProbe> ProbeAsync(NodeAddress sentinel, CancellationToken ct)
    {
        var (node, mux) = sentinels.First(s => s.Node.Equals(sentinel));
        return ProbeAsync(node, mux, withTilt: false, ct);
    }

    async Task<SentinelProbe> ProbeAsync(NodeAddress node, ConnectionMultiplexer mux, bool withTilt, CancellationToken ct)
    {
        var answer = AskAsync(node, mux, ct);
        IEnumerable<IGrouping<string, KeyValuePair<string, string>>>? info = null;
        if (withTilt && mux.IsConnected)
        {
            try { info = await mux.GetServer(RedisEndpoints.ToEndPoint(node)).InfoAsync("sentinel").WaitAsync(CallTimeout, ct).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                return RedisReplies.Probe(SentinelAnswer.Failed(node, "INFO sentinel: " + RedisEndpoints.Describe(e)), null);
            }
        }
        return RedisReplies.Probe(await answer.ConfigureAwait(false), info);
    }

    public async Task<(FailoverAnswer Answer, string Detail)> FailoverAsync(NodeAddress sentinel, CancellationToken ct)
    {
        var (node, mux) = sentinels.First(s => s.Node.Equals(sentinel));
        if (!mux.IsConnected) return (FailoverAnswer.Refused, "not connected");
        try
        {
            await mux.GetServer(RedisEndpoints.ToEndPoint(node)).SentinelFailoverAsync(settings.MasterSetName).WaitAsync(CallTimeout, ct).ConfigureAwait(false);
            return (FailoverAnswer.Accepted, "OK");
        }
        catch (RedisServerException e)
        {
            return (FailoverAnswer.Refused, RedisEndpoints.Describe(e));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return (FailoverAnswer.Unknown, RedisEndpoints.Describe(e));
        }
    }

    public async Task<IReadOnlyList<SentinelEntry>?> ReplicasAsync(NodeAddress sentinel, CancellationToken ct)
    {
        var (node, mux) = sentinels.First(s => s.Node.Equals(sentinel));
        if (!mux.IsConnected) return null;
        try
        {
            var rows = await mux.GetServer(RedisEndpoints.ToEndPoint(node)).SentinelReplicasAsync(settings.MasterSetName).WaitAsync(CallTimeout, ct).ConfigureAwait(false);
            return [.. rows.Select(RedisReplies.SentinelEntry)];
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, mux) in sentinels) await mux.DisposeAsync().ConfigureAwait(false);
        sentinels.Clear();
    }
}
