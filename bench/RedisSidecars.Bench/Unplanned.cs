using RedisSidecars.Redis;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>kill -9 of the master: the client's write gap through the master Service and its parts (down-after, election, labelling).</summary>
public static class Unplanned
{
    const string L = SidecarSet.Label, M = SidecarSet.Master;
    const string S = "kill -9 master";
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(40);

    public static async Task RunAsync(Report report, Counts n, Flavour f)
    {
        var c = f.Column;
        await using var s = await f.StartSetAsync(Settle);
        await using var ev = await SentinelEvents.StartAsync(s.Set, "+odown", "+promoted-slave", "+switch-master");
        var down = new List<double>(); var elect = new List<double>(); var label = new List<double>(); var gaps = new List<double>(); var noEndpoint = new List<double>();
        for (var round = 0; round < n.Unplanned; round++)
        {
            var master = await s.Set.WaitForSettledAsync(Settle);
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels before the round");
            await using var writer = new AckedWriter(s.ServiceEndpoint, s.Set);
            writer.Start();
            await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 300), Settle, "writer running");
            ev.Reset();
            var from = s.Api.Timeline.Elapsed;
            var tKill = DateTimeOffset.UtcNow;
            s.Set.Kill(master);
            var tDown = await ev.WaitAsync("+odown", Settle);
            var promoted = await ev.WaitAsync("+promoted-slave", Settle);
            var newNode = s.Set.NodeAt(RedisReplies.PromotedReplica(promoted.Message, RedisSet.MasterSet)?.ToString()
                ?? throw new InvalidOperationException($"unexpected +promoted-slave message '{promoted.Message}'"));
            var change = await s.Api.Timeline.WaitForAsync(x => x.Pod == newNode.Name && x.Key == L && x.NewValue == M && x.WallTime >= tKill, Settle);
            var count = writer.Acked.Count;
            await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > count + 300), Settle, "writer continues");
            await writer.DisposeAsync();
            down.Add((tDown.At - tKill).TotalMilliseconds);
            elect.Add((promoted.At - tDown.At).TotalMilliseconds);
            label.Add((change.WallTime - promoted.At).TotalMilliseconds);
            gaps.Add(writer.LongestGap().TotalMilliseconds);
            noEndpoint.Add(s.MasterEndpoints().LongestWithoutReady(from, s.Api.Timeline.Elapsed).TotalMilliseconds);
            await s.Set.StartAsync(master); // back as a replica, through redis-init
            await s.Set.WaitUntilAsync(async () => await s.Set.OnlineReplicasAsync(newNode) == s.Set.Redis.Count - 1, Settle, "old master resynced");
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels settled");
        }
        var downAfter = s.Set.EnvFor(s.Set.Sentinels[0])["SENTINEL_DOWN_AFTER_MS"];
        report.Set(S, "client's write gap (through the master Service)", c, Stats.Dist(gaps), f.Old ? "" : $"{n.Unplanned} round(s); SENTINEL_DOWN_AFTER_MS={downAfter} here (default 5000)");
        report.Set(S, "kill → +odown (down-after + quorum)", c, Stats.Dist(down));
        report.Set(S, "+odown → +promoted-slave (election, promotion)", c, Stats.Dist(elect));
        report.Set(S, "+promoted-slave → new master labelled", c, Stats.Dist(label));
        report.Set(S, "no ready endpoint of the master Service", c, Stats.Dist(noEndpoint), f.Old ? "" : "longest stretch per round, from the kill");
    }
}
