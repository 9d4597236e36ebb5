using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.Redis;

public sealed record DiscoveryResult(MasterDecision Decision, IReadOnlyList<SentinelAnswer> Sentinels, IReadOnlyList<PeerAnswer> Peers);

/// <summary>
/// DESIGN.md "Finding the master": the Sentinels' majority, else the peers' ROLE, else pod-0; all
/// within <see cref="CommonSettings.DiscoveryTimeout"/>. Asks again while a failover is in progress.
/// </summary>
public sealed class MasterDiscovery(CommonSettings settings, IDiscoveryClient client, TimeProvider time)
{
    static readonly TimeSpan PerCall = TimeSpan.FromSeconds(1);
    static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);

    /// <param name="withPeers">Also ask the peers when the Sentinels agree (for the empty-restart guard).</param>
    public Task<DiscoveryResult> DiscoverAsync(bool withPeers, CancellationToken ct) => DiscoverAsync(_ => withPeers, ct);

    /// <param name="askPeersWhen">Also ask the peers when the Sentinels agree on a master for which this is true
    /// (the empty-restart guard needs them only when this pod is named master with an empty data directory).</param>
    public async Task<DiscoveryResult> DiscoverAsync(Func<NodeAddress, bool> askPeersWhen, CancellationToken ct)
    {
        var start = time.GetTimestamp();
        TimeSpan Remaining() => settings.DiscoveryTimeout - time.GetElapsedTime(start);
        TimeSpan CallTimeout() => Remaining() < PerCall ? Max(Remaining(), TimeSpan.FromMilliseconds(50)) : PerCall;

        var sentinels = settings.SentinelNodes.Where(n => !(settings.Mode == NodeMode.Sentinel && settings.IsMe(n))).ToArray();
        var peers = settings.RedisNodes.Where(n => !(settings.Mode == NodeMode.Redis && settings.IsMe(n))).ToArray();

        IReadOnlyList<SentinelAnswer> sentinelAnswers = [];
        SentinelVerdict? verdict = null;
        while (sentinels.Length > 0)
        {
            sentinelAnswers = await client.AskSentinelsAsync(sentinels, CallTimeout(), ct).ConfigureAwait(false);
            verdict = MasterResolver.JudgeSentinels(sentinelAnswers, settings.SentinelNodes.Count);
            if (verdict.Kind != SentinelVerdictKind.InFlux || Remaining() <= RetryDelay) break;
            await Task.Delay(RetryDelay, time, ct).ConfigureAwait(false);
        }

        if (verdict is { Kind: SentinelVerdictKind.Agreed, Master: { } agreed })
        {
            IReadOnlyList<PeerAnswer> peerAnswers = peers.Length > 0 && askPeersWhen(agreed)
                ? await client.AskPeersAsync(peers, CallTimeout(), ct).ConfigureAwait(false)
                : [];
            return new(new MasterDecision(agreed, DecisionSource.Sentinels, verdict.Detail), sentinelAnswers, peerAnswers);
        }

        var answers = peers.Length > 0 ? await client.AskPeersAsync(peers, CallTimeout(), ct).ConfigureAwait(false) : [];
        var fromPeers = MasterResolver.FromPeers(answers, peers.Length);
        if (fromPeers is not null) return new(fromPeers, sentinelAnswers, answers);

        var why = verdict is null ? "no-sentinels" : verdict.Kind == SentinelVerdictKind.InFlux ? "sentinels-disagree" : "nothing-reachable";
        if (verdict is not null && verdict.Answered == 0 && answers.All(a => !a.Answered)) why = "nothing-reachable";
        else if (verdict is { Kind: SentinelVerdictKind.NoMajority }) why = $"no-sentinel-majority({verdict.Agree}/{verdict.Configured})+peers-undecided";
        return new(MasterResolver.Default(settings.RedisNodes, why), sentinelAnswers, answers);
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
