using System.Globalization;
using k8s;
using Microsoft.Extensions.Logging;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar.Kubernetes;

/// <summary>The watch cache against the API double over HTTP: list, watch, reconnects, 410, outages, RBAC, bookmarks.</summary>
public sealed class KubeFactsWatcherTests : KubeEdgeTestBase
{
    /// <summary>Ends the pod watch and keeps it from reconnecting (503) until <see cref="KubeApiServer.ClearFaults"/>.</summary>
    private void DisconnectPodWatch()
    {
        Api.FailUntil(TimeSpan.FromMinutes(5), 503, verb: "watch", pathContains: "/pods");
        Api.CloseWatches(resource: "pods");
    }

    [Fact]
    public async Task RunAsync_InitialList_OwnPodPeersInOrdinalOrderAndUpdateRevision()
    {
        AddSet();
        Api.AddPod(Ns, "redis-9"); // not one of the set's three pods
        Api.SetCondition(Ns, "redis-0", Gate, "True");
        Api.SetLabel(Ns, "redis-2", Role, "master");
        var watcher = StartWatcher();

        var facts = await WaitForSyncAsync(watcher);

        Assert.Equal("redis-0", facts.Own!.Name);
        Assert.Equal(["redis-1", "redis-2"], facts.Peers.Select(p => p.Name));
        Assert.Equal(Api.GetUpdateRevision(Ns, "redis"), facts.UpdateRevision);
        Assert.Equal(facts.UpdateRevision, facts.Own.RevisionHash);
        Assert.True(facts.Own.DeclaresReadinessGate);
        Assert.True(facts.Own.ConditionTrue);
        Assert.Null(Peer(facts, "redis-1").ConditionTrue);
        Assert.Equal("master", Peer(facts, "redis-2").Label(Role));
        Assert.False(facts.Own.Terminating);
        Assert.Equal((string?)Api.GetPod(Ns, "redis-0")!["metadata"]!["uid"], facts.Own.Uid);
        Assert.Equal(1, Api.CountRequestsSince()["list", "pods"]);
        Assert.Contains("statefulset.kubernetes.io/pod-name in (redis-0,redis-1,redis-2)",
            Uri.UnescapeDataString(Api.Requests.First(r => r.Verb == "list" && r.Resource == "pods").Query), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WaitForChangeAsync_PeerLabelRemovedByHand_WakesAWaiterWithTheNewFacts()
    {
        AddSet();
        Api.SetLabel(Ns, "redis-1", Role, "master");
        var watcher = StartWatcher();
        var before = await WaitForAsync(watcher, f => f.Synced && f.Peers.Count == 2 && f.UpdateRevision is not null, "synced");
        Assert.Equal("master", Peer(before, "redis-1").Label(Role));

        var waiting = watcher.WaitForChangeAsync(before.Version, CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Api.SetLabel(Ns, "redis-1", Role, null);
        await waiting.WaitAsync(Patience);

        var after = watcher.Current;
        Assert.True(after.Version > before.Version);
        Assert.Null(Peer(after, "redis-1").Label(Role));
    }

    [Fact]
    public async Task RunAsync_HandEditOfOwnLabelAndTerminationAndRecreation_AreSeen()
    {
        AddSet();
        var watcher = StartWatcher();
        var synced = await WaitForSyncAsync(watcher);

        Api.SetLabel(Ns, "redis-0", Role, "replica");
        await WaitForAsync(watcher, f => f.Own?.Label(Role) == "replica", "own label set by hand");
        Api.MarkTerminating(Ns, "redis-2");
        await WaitForAsync(watcher, f => f.Peers.Any(p => p is { Name: "redis-2", Terminating: true }), "redis-2 terminating");
        Api.RecreatePod(Ns, "redis-2");
        var recreated = await WaitForAsync(watcher, f => f.Peers.Any(p => p.Name == "redis-2" && p.Uid != Peer(synced, "redis-2").Uid), "redis-2 recreated");

        Assert.False(Peer(recreated, "redis-2").Terminating);
        Assert.Equal(0, Metrics.KubeRelists.Value);
    }

    [Fact]
    public async Task RunAsync_PodDeleted_LeavesThePeers()
    {
        AddSet();
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);

        Api.RemovePod(Ns, "redis-1");
        var facts = await WaitForAsync(watcher, f => f.Peers.All(p => p.Name != "redis-1"), "redis-1 gone");

        Assert.Equal(["redis-2"], facts.Peers.Select(p => p.Name));
    }

    [Fact]
    public async Task RunAsync_NoChanges_KeepsTheVersionAndMakesNoRequestBeyondItsWatches()
    {
        AddSet();
        var watcher = StartWatcher();
        var synced = await WaitForSyncAsync(watcher);
        await EventuallyAsync(() => Api.OpenWatches == 2, "both watches open");
        var mark = Api.MarkRequests();

        Api.SetCondition(Ns, "redis-1", "SomethingElse", "True"); // a change the facts do not carry
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Equal(synced.Version, watcher.Current.Version);
        Assert.Equal("none", Api.CountRequestsSince(mark).ToString());
        Assert.Equal(2, Api.OpenWatches);
    }

    [Fact]
    public async Task RunAsync_StatefulSetRolloutRestart_UpdateRevisionFollows()
    {
        AddSet();
        var watcher = StartWatcher();
        var before = await WaitForSyncAsync(watcher);

        var revision = Api.RolloutRestart(Ns, "redis");
        var after = await WaitForAsync(watcher, f => f.UpdateRevision == revision, "the new update revision");

        Assert.NotEqual(before.UpdateRevision, revision);
        Assert.Equal(before.UpdateRevision, after.Own!.RevisionHash); // the pod keeps its revision until recreated
        Assert.Contains("fieldSelector=metadata.name%3Dredis", Api.Requests.First(r => r.Resource == "statefulsets").Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_WatchesEndedByTheServer_ReconnectFromTheirResourceVersionWithoutRelisting()
    {
        AddSet();
        Api.WatchExpiry = TimeSpan.FromMilliseconds(200);
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);
        await EventuallyAsync(() => Api.CountRequestsSince()["watch", "pods"] >= 4, "several pod watches, each ended by the server");

        Api.SetLabel(Ns, "redis-1", Role, "master");
        await WaitForAsync(watcher, f => Peer(f, "redis-1").Label(Role) == "master", "the change after reconnects");

        var counts = Api.CountRequestsSince();
        Assert.Equal((1, 1), (counts["list", "pods"], counts["list", "statefulsets"]));
        Assert.Equal(0, Metrics.KubeRelists.Value);
        Assert.True(Metrics.KubeWatchRestarts.Value >= 3);
        Assert.Contains("redis_sidecar_kube_watch_restarts_total", Metrics.Render(), StringComparison.Ordinal);
        Assert.DoesNotContain(Logger.Lines, l => l.Level >= LogLevel.Warning);
        var timeouts = Api.Requests.Where(r => r.Verb == "watch").Select(r => int.Parse(
            System.Web.HttpUtility.ParseQueryString(r.Query)["timeoutSeconds"]!, CultureInfo.InvariantCulture)).ToList();
        Assert.All(timeouts, t => Assert.InRange(t, 600, 1199)); // random in [10 min, 20 min) per the options
    }

    [Fact]
    public async Task RunAsync_ServerEndingEveryWatchAtOnce_IsAskedAgainWithBackoffNotInATightLoop()
    {
        AddSet();
        Api.WatchExpiry = TimeSpan.FromMilliseconds(1);
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);
        var mark = Api.MarkRequests();

        await Task.Delay(TimeSpan.FromSeconds(1.5));

        // Backing off (20 ms doubling to 200 ms) allows about a dozen per watch here; a tight loop hundreds.
        var watches = Api.CountRequestsSince(mark).Verb("watch");
        Assert.InRange(watches, 1, 60);
    }

    [Fact]
    public async Task RunAsync_ResourceVersionExpiredWhileDisconnected_RelistsAndSeesTheMissedChange()
    {
        AddSet();
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);

        DisconnectPodWatch();
        Api.SetLabel(Ns, "redis-2", Role, "master");
        Api.CompactHistory();
        await EventuallyAsync(() => Api.Requests.Any(r => r.Fault == "fail 503"), "a failed reconnect");
        Assert.Null(Peer(watcher.Current, "redis-2").Label(Role)); // not seen yet: the watch is down
        Api.ClearFaults();
        var facts = await WaitForAsync(watcher, f => Peer(f, "redis-2").Label(Role) == "master", "the missed change after a relist");

        Assert.Equal("master", Peer(facts, "redis-2").Label(Role));
        Assert.True(Metrics.KubeRelists.Value >= 1);
        Assert.Contains(Api.Requests, r => r.Fault == "watch 410");
        Assert.Equal(2, Api.CountRequestsSince()["list", "pods"]);
        Assert.Contains(Logger.Lines, l => l.Text.Contains("410 Gone", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_PodDeletedWhileDisconnectedAndHistoryCompacted_RelistDropsIt()
    {
        AddSet();
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);

        DisconnectPodWatch();
        Api.RemovePod(Ns, "redis-1");
        Api.CompactHistory();
        Api.ClearFaults();
        var facts = await WaitForAsync(watcher, f => f.Peers.All(p => p.Name != "redis-1"), "redis-1 gone after the relist");

        Assert.Equal(["redis-2"], facts.Peers.Select(p => p.Name));
    }

    [Fact]
    public async Task RunAsync_Blackhole_KeepsTheLastFactsAndRecoversAfterwards()
    {
        AddSet();
        var watcher = StartWatcher();
        var before = await WaitForSyncAsync(watcher);

        Api.Blackhole();
        Api.SetLabel(Ns, "redis-1", Role, "master");
        await EventuallyAsync(() => Api.Requests.Count(r => r.Fault == "blackhole" && r.Verb == "watch" && r.StatusCode == 499) >= 2,
            "watches given up on and their reconnects held");
        var during = watcher.Current;
        Api.EndBlackhole();
        var after = await WaitForAsync(watcher, f => Peer(f, "redis-1").Label(Role) == "master", "the change after the blackhole");
        Assert.True(after.Live);

        Assert.True(during.Synced);
        Assert.False(during.Live); // the last facts are kept, flagged as not current
        Assert.True(during.Own!.SameAs(before.Own) && during.Peers.Zip(before.Peers).All(p => p.First.SameAs(p.Second)));
        Assert.Null(Peer(during, "redis-1").Label(Role));
        Assert.Equal(before.UpdateRevision, after.UpdateRevision);
        Assert.True(Metrics.ApiErrors.Value >= 2);
        Assert.Contains(Logger.Lines, l => l.Level == LogLevel.Warning && l.Text.Contains("the last known state is kept", StringComparison.Ordinal));
        Assert.Contains(Logger.Lines, l => l.Text.Contains("watch is back", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reprove_WatchesDeadAfterABlackhole_ARolloutIsSeenAtOnceFromTheSameResourceVersion()
    {
        // A blackhole leaves every open watch dead for good (until the idle timeout, 10 min here): a rolling restart
        // then goes unseen, unless evidence of a change in the set (Sentinel: an instance down or back) reopens them.
        AddSet();
        var watcher = StartWatcher(Fast with { IdleTimeout = TimeSpan.FromMinutes(10), ReproveAfter = TimeSpan.FromMilliseconds(200) });
        var before = await WaitForSyncAsync(watcher);
        await EventuallyAsync(() => Api.OpenWatches == 2, "both watches open");
        Api.Blackhole();
        Api.EndBlackhole();
        var revision = Api.RolloutRestart(Ns, "redis");
        Api.RecreatePod(Ns, "redis-2", revision);
        await Task.Delay(400);
        Assert.Equal(before.UpdateRevision, watcher.Current.UpdateRevision); // the dead watches did not deliver it
        var mark = Api.MarkRequests();

        watcher.Reprove("a test's evidence");

        var after = await WaitForAsync(watcher, f => f.UpdateRevision == revision && Peer(f, "redis-2").RevisionHash == revision, "the rollout and the recreated pod");
        Assert.Equal(before.UpdateRevision, after.Own!.RevisionHash);
        var counts = Api.CountRequestsSince(mark);
        Assert.Equal((1, 1, 0, 0), (counts["watch", "pods"], counts["watch", "statefulsets"], counts["list", "pods"], counts["list", "statefulsets"]));
        Assert.Equal(0, Metrics.KubeRelists.Value);
        Assert.Equal(2, Logger.Lines.Count(l => l.Text.Contains("reopened from its resourceVersion", StringComparison.Ordinal)
                                               && l.Text.Contains("a test's evidence", StringComparison.Ordinal)));
        Assert.DoesNotContain(Logger.Lines, l => l.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task Reprove_WatchesThatSpokeRecently_AreLeftOpen()
    {
        AddSet();
        var watcher = StartWatcher(Fast with { ReproveAfter = TimeSpan.FromSeconds(10) });
        await WaitForSyncAsync(watcher);
        await EventuallyAsync(() => Api.OpenWatches == 2, "both watches open");
        var mark = Api.MarkRequests();

        watcher.Reprove("a test's evidence");
        await Task.Delay(500);

        Assert.Equal("none", Api.CountRequestsSince(mark).ToString());
        Assert.Equal(2, Api.OpenWatches);
        Assert.DoesNotContain(Logger.Lines, l => l.Text.Contains("reopened", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reprove_ManyEventsAtOnce_ReopenEachWatchOnce()
    {
        // Three Sentinels announce the same +sdown: one reopen per watch, not three.
        AddSet();
        Api.BookmarkInterval = TimeSpan.FromHours(1); // silent but healthy watches
        var watcher = StartWatcher(Fast with { IdleTimeout = TimeSpan.FromMinutes(10), ReproveAfter = TimeSpan.FromMilliseconds(300) });
        await WaitForSyncAsync(watcher);
        await EventuallyAsync(() => Api.OpenWatches == 2, "both watches open");
        await Task.Delay(400);
        var mark = Api.MarkRequests();

        for (var i = 0; i < 3; i++) watcher.Reprove("a test's evidence");
        await EventuallyAsync(() => Api.OpenWatches == 2 && Api.CountRequestsSince(mark)["watch", "pods"] == 1, "the pod watch reopened");
        await Task.Delay(100);

        var counts = Api.CountRequestsSince(mark);
        Assert.Equal((1, 1), (counts["watch", "pods"], counts["watch", "statefulsets"]));
    }

    [Fact]
    public async Task RunAsync_ConnectionsRefusedThenAccepted_KeepsTheFactsAndCatchesUp()
    {
        AddSet();
        var watcher = StartWatcher();
        var before = await WaitForSyncAsync(watcher);

        await Api.RefuseConnectionsAsync();
        Api.SetLabel(Ns, "redis-2", Role, "master");
        await Task.Delay(300); // several refused reconnects
        var during = watcher.Current;
        await Api.AcceptConnectionsAsync();
        await WaitForAsync(watcher, f => Peer(f, "redis-2").Label(Role) == "master", "the change after the outage");

        Assert.False(during.Live); // the last facts are kept, flagged as not current
        Assert.True(during.Own!.SameAs(before.Own) && during.Peers.Zip(before.Peers).All(p => p.First.SameAs(p.Second)));
        Assert.True(Metrics.ApiErrors.Value >= 1);
    }

    [Fact]
    public async Task RunAsync_OutageSequence_BlackholeThenRefusalThen503s_EndsConsistent()
    {
        AddSet();
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);

        Api.Blackhole(TimeSpan.FromMilliseconds(400));
        Api.SetLabel(Ns, "redis-1", Role, "master");
        await Task.Delay(500);
        await Api.RefuseConnectionsForAsync(TimeSpan.FromMilliseconds(300));
        Api.SetLabel(Ns, "redis-1", Role, null);
        Api.SetLabel(Ns, "redis-2", Role, "master");
        Api.FailUntil(TimeSpan.FromMilliseconds(800), 503);
        var revision = Api.RolloutRestart(Ns, "redis");

        var facts = await WaitForAsync(watcher,
            f => Peer(f, "redis-2").Label(Role) == "master" && Peer(f, "redis-1").Label(Role) is null && f.UpdateRevision == revision, "the final state");
        Assert.True(facts.Synced);
    }

    [Fact]
    public async Task RunAsync_StatefulSetsForbidden_UpdateRevisionNullPodsStillWatchedAndTheRuleLoggedOnce()
    {
        AddSet();
        Api.EnforceRole([new PolicyRule([""], ["pods"], ["list", "watch"])]);
        var watcher = StartWatcher(Fast with { ForbiddenRetry = TimeSpan.FromMilliseconds(100) });
        await WaitForAsync(watcher, f => f.Synced && f.Own is not null, "pods listed");
        await EventuallyAsync(() => Api.Requests.Count(r => r.StatusCode == 403) >= 3, "several denied StatefulSet lists");

        Api.SetLabel(Ns, "redis-1", Role, "master");
        var facts = await WaitForAsync(watcher, f => Peer(f, "redis-1").Label(Role) == "master", "a pod change");

        Assert.Null(facts.UpdateRevision);
        var forbidden = Assert.Single(Logger.Lines, l => l.Level == LogLevel.Error);
        Assert.Equal(
            "Kubernetes API forbids list on statefulsets \"redis\": the Role needs the rule apiGroups [\"apps\"], resources [\"statefulsets\"], verbs [\"list\"], resourceNames [\"redis\"]",
            forbidden.Text);
    }

    [Fact]
    public async Task RunAsync_Bookmarks_AdvanceTheResumeVersionSoACompactedHistoryNeedsNoRelist()
    {
        Api.BookmarkInterval = TimeSpan.FromMilliseconds(50);
        AddSet();
        Api.AddPod(Ns, "sentinel-0");
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);

        Api.SetLabel(Ns, "sentinel-0", "x", "y"); // outside the selector: no event, but the resourceVersion moves
        var current = Api.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        await EventuallyAsync(() => watcher.PodsResourceVersion == current, "a bookmark at the new resourceVersion");
        Api.CompactHistory();
        Api.CloseWatches(resource: "pods");
        await EventuallyAsync(() => Api.CountRequestsSince()["watch", "pods"] >= 2, "the pod watch reopened");
        Api.SetLabel(Ns, "redis-1", Role, "master");
        await WaitForAsync(watcher, f => Peer(f, "redis-1").Label(Role) == "master", "a change on the reopened watch");

        // The pods were never listed again (the StatefulSet watch may, if it reopened from an older version).
        Assert.Equal(1, Api.CountRequestsSince()["list", "pods"]);
        Assert.DoesNotContain(Api.Requests, r => r is { Fault: "watch 410", Resource: "pods" });
    }

    [Fact]
    public async Task RunAsync_ResyncTimer_RelistsWithoutChangingTheFacts()
    {
        AddSet();
        var watcher = StartWatcher(Fast with { ResyncInterval = TimeSpan.FromMilliseconds(300) });
        var synced = await WaitForSyncAsync(watcher);

        await EventuallyAsync(() => Metrics.KubeRelists.Value >= 4, "relists by the resync timer (pods and StatefulSet)");

        Assert.Equal(synced.Version, watcher.Current.Version);
        Assert.True(Api.CountRequestsSince()["list", "pods"] >= 3);
    }

    [Fact]
    public async Task Observe_PatchAnswerNewerThanTheCache_IsSeenBeforeAnyWatchEvent()
    {
        AddSet();
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);
        Api.FailUntil(TimeSpan.FromMinutes(5), 503, verb: "watch");
        Api.CloseWatches();

        await Writer(watcher).SetRoleLabelAsync("master", CancellationToken.None);

        Assert.Equal("master", watcher.Current.Own!.Label(Role));
        Assert.Equal(0, Api.OpenWatches);
    }

    [Fact]
    public async Task Observe_OlderPodThanTheCache_IsIgnored()
    {
        AddSet();
        var watcher = StartWatcher();
        await WaitForSyncAsync(watcher);
        var old = (await StatefulSetPods.ListPodsAsync(Kube, Ns, ["redis-1"], CancellationToken.None)).Items.Single();
        Api.SetLabel(Ns, "redis-1", Role, "master");
        var version = (await WaitForAsync(watcher, f => Peer(f, "redis-1").Label(Role) == "master", "label seen")).Version;

        watcher.Observe(old);

        Assert.Equal(version, watcher.Current.Version);
        Assert.Equal("master", Peer(watcher.Current, "redis-1").Label(Role));
    }
}
