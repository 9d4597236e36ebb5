using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using static RedisSidecars.UnitTests.Core.Topology;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class MasterDiscoveryTests
{
    readonly SteppingClock clock = new();
    readonly FakeDiscoveryClient client = new();

    /// <summary>redis-1 with a 1 s discovery budget: rounds at 0, 250, 500, 750 ms.</summary>
    static CommonSettings RedisOne() => SettingsBuilder.Redis(1, r => r.DiscoveryTimeoutMs = "1000");

    Task<DiscoveryResult> Discover(CommonSettings settings, bool withPeers) =>
        clock.RunAsync(() => new MasterDiscovery(settings, client, clock).DiscoverAsync(withPeers, CancellationToken.None));

    [Fact]
    public async Task DiscoverAsync_SentinelsAgree_SourceSentinelsAndPeersNotAsked()
    {
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(2));

        var r = await Discover(RedisOne(), withPeers: false);

        Assert.Equal(RedisNode(2), r.Decision.Master);
        Assert.Equal(DecisionSource.Sentinels, r.Decision.Source);
        Assert.Equal("agree=3/3", r.Decision.Detail);
        Assert.Single(client.SentinelCalls);
        Assert.Equal([SentinelNode(0), SentinelNode(1), SentinelNode(2)], client.SentinelCalls[0]);
        Assert.Empty(client.PeerCalls);
        Assert.Empty(r.Peers);
    }

    [Fact]
    public async Task DiscoverAsync_SentinelsAgreeWithPeers_PeersAskedExceptMe()
    {
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(2));
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(2));

        var r = await Discover(RedisOne(), withPeers: true);

        Assert.Equal(DecisionSource.Sentinels, r.Decision.Source);
        Assert.Equal([RedisNode(0), RedisNode(2)], Assert.Single(client.PeerCalls));
        Assert.Equal(2, r.Peers.Count);
    }

    [Theory]
    [InlineData(2, false)] // Sentinels agree on another pod: the guard has nothing to check, peers not asked
    [InlineData(1, true)]  // Sentinels agree on this pod: the guard needs the peers
    public async Task DiscoverAsync_AskPeersWhenPredicate_PeersAskedOnlyForMatchingMaster(int agreedOrdinal, bool peersAsked)
    {
        client.Sentinels = FakeDiscoveryClient.AllSay(RedisNode(agreedOrdinal));
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(agreedOrdinal));
        var settings = RedisOne();

        var r = await clock.RunAsync(() => new MasterDiscovery(settings, client, clock).DiscoverAsync(m => settings.IsMe(m), CancellationToken.None));

        Assert.Equal(RedisNode(agreedOrdinal), r.Decision.Master);
        Assert.Equal(peersAsked, client.PeerCalls.Count == 1);
        Assert.Equal(peersAsked ? 2 : 0, r.Peers.Count);
    }

    [Fact]
    public async Task DiscoverAsync_InFluxThenAgreement_AsksAgainAfterRetryDelay()
    {
        client.Sentinels = (round, s) => round == 0
            ? new SentinelAnswer(s, s.Equals(SentinelNode(0)) ? RedisNode(0) : RedisNode(2), FailoverInProgress: true)
            : new SentinelAnswer(s, RedisNode(2), false);
        var started = clock.GetUtcNow();

        var r = await Discover(RedisOne(), withPeers: false);

        Assert.Equal(2, client.SentinelCalls.Count);
        Assert.Equal(RedisNode(2), r.Decision.Master);
        Assert.Equal(DecisionSource.Sentinels, r.Decision.Source);
        Assert.Equal(TimeSpan.FromMilliseconds(250), clock.Elapsed(started));
        Assert.Empty(client.PeerCalls);
    }

    [Fact]
    public async Task DiscoverAsync_InFluxForWholeBudget_FallsToPeers()
    {
        client.Sentinels = (_, s) => new SentinelAnswer(s, RedisNode(s.Host.EndsWith(".1", StringComparison.Ordinal) ? 0 : 2), FailoverInProgress: true);
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(2));
        var started = clock.GetUtcNow();

        var r = await Discover(RedisOne(), withPeers: false);

        // 1 s budget, 250 ms between rounds, stop when no more than one delay is left: 0, 250, 500, 750.
        Assert.Equal(4, client.SentinelCalls.Count);
        Assert.True(clock.Elapsed(started) < TimeSpan.FromSeconds(1), $"budget overrun: {clock.Elapsed(started)}");
        Assert.Single(client.PeerCalls);
        Assert.Equal(RedisNode(2), r.Decision.Master);
        Assert.Equal(DecisionSource.Peers, r.Decision.Source);
    }

    [Fact]
    public async Task DiscoverAsync_SentinelsDownAndOnePeerMaster_SourcePeers()
    {
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(0));

        var r = await Discover(RedisOne(), withPeers: false);

        Assert.Single(client.SentinelCalls); // no retry: NoMajority is not InFlux
        Assert.Equal(RedisNode(0), r.Decision.Master);
        Assert.Equal(DecisionSource.Peers, r.Decision.Source);
        Assert.Contains("masters=1", r.Decision.Detail);
        Assert.All(r.Sentinels, a => Assert.False(a.Answered));
    }

    [Fact]
    public async Task DiscoverAsync_NothingReachable_PodZeroWithReasonNothingReachable()
    {
        var r = await Discover(SettingsBuilder.Redis(2), withPeers: true);

        Assert.Equal(RedisNode(0), r.Decision.Master);
        Assert.Equal(DecisionSource.Default, r.Decision.Source);
        Assert.Equal("reason=nothing-reachable", r.Decision.Detail);
    }

    [Fact]
    public async Task DiscoverAsync_SentinelMinorityAndPeersUndecided_DefaultSaysWhy()
    {
        client.Sentinels = (_, s) => s.Equals(SentinelNode(0)) ? new SentinelAnswer(s, RedisNode(1), false) : SentinelAnswer.Failed(s, "timeout");
        client.Peers = (_, p) => new PeerAnswer(p, PeerRole.Replica, ReplicaOf: null, HoldsData: false);

        var r = await Discover(SettingsBuilder.Redis(2), withPeers: false);

        Assert.Equal(DecisionSource.Default, r.Decision.Source);
        Assert.Contains("no-sentinel-majority(1/3)", r.Decision.Detail);
    }

    [Fact]
    public async Task DiscoverAsync_SentinelMode_OwnSentinelNotAskedButStillCountedAsConfigured()
    {
        client.Sentinels = (_, s) => s.Equals(SentinelNode(2)) ? new SentinelAnswer(s, RedisNode(1), false) : SentinelAnswer.Failed(s, "refused");
        client.Peers = FakeDiscoveryClient.ReplicasOf(RedisNode(0));

        var r = await Discover(SettingsBuilder.Sentinel(1, x => x.DiscoveryTimeoutMs = "1000"), withPeers: false);

        Assert.Equal([SentinelNode(0), SentinelNode(2)], Assert.Single(client.SentinelCalls));
        // 1 of 3 configured is no majority, so the peers decide; all three Redis nodes are peers of a Sentinel.
        Assert.Equal([RedisNode(0), RedisNode(1), RedisNode(2)], Assert.Single(client.PeerCalls));
        Assert.Equal(RedisNode(0), r.Decision.Master);
        Assert.Equal(DecisionSource.Peers, r.Decision.Source);
    }
}
