using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace RedisSidecars.Testing;

/// <summary>
/// What one isolation of the master showed (<see cref="IsolatedMaster.RunAsync"/>). Times are measured from the cut
/// (<c>…AfterCut</c>) or from the heal (<c>…AfterHeal</c>). "Written" = the master answered the SET with OK (a client
/// without WAIT takes it as stored); "acknowledged" (the majority-side writer) = <c>WAIT 1</c> confirmed a replica has it.
/// </summary>
public sealed record IsolationRound(
    string OldMaster,
    string NewMaster,
    TimeSpan Grace,
    TimeSpan? FencedAfterCut,
    bool FencedMetricWhileCut,
    int ReadyzWhileCut,
    TimeSpan FailoverAfterCut,
    TimeSpan NewMasterLabelledAfterCut,
    IReadOnlyList<TimeSpan> WrittenAfterCut,
    int RefusedWhileCut,
    int SentAfterCut,
    int SentAfterCutLost,
    TimeSpan RejoinedAfterHeal,
    bool ConvertedBySentinel,
    TimeSpan? UnfencedAfterHeal,
    int MajorityAcked,
    IReadOnlyList<long> MajorityLost,
    int MaxMastersLabelled)
{
    /// <summary>The goal: with the fence, the isolated master writes nothing later than this after the cut.</summary>
    public TimeSpan Bound => Grace + TimeSpan.FromSeconds(1);

    public int WrittenAfterBound => WrittenAfterCut.Count(t => t > Bound);

    public TimeSpan? LastWrittenAfterCut => WrittenAfterCut.Count == 0 ? null : WrittenAfterCut.Max();

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{OldMaster} isolated → {NewMaster}: fenced after {S(FencedAfterCut)} (metric {(FencedMetricWhileCut ? 1 : 0)}, /readyz {ReadyzWhileCut}); "
        + $"isolated master wrote {WrittenAfterCut.Count} after the cut (last at {S(LastWrittenAfterCut)}), {WrittenAfterBound} after grace + 1 s = {Bound.TotalSeconds:0.0} s, "
        + $"{SentAfterCutLost} lost of the {SentAfterCut} sent after the cut, {RefusedWhileCut} refused (-NOREPLICAS); Sentinels agreed on the new master after {FailoverAfterCut.TotalSeconds:0.00} s, "
        + $"labelled after {NewMasterLabelledAfterCut.TotalSeconds:0.00} s; heal → old master a replica again after {RejoinedAfterHeal.TotalSeconds:0.00} s "
        + $"(converted by Sentinel: {ConvertedBySentinel}), unfenced after {S(UnfencedAfterHeal)}; majority side acknowledged {MajorityAcked}, lost {MajorityLost.Count}; "
        + $"max masters labelled at once {MaxMastersLabelled}");

    static string S(TimeSpan? t) => t is { } v ? v.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s" : "never";
}

/// <summary>
/// A real partition of the master: the master's Redis and its sidecar (run under its own uid) cut from the Sentinels and the
/// replicas, while a client on the master's side keeps writing to it directly (from 127.0.0.1, not cut: a pooled
/// connection, SET + <c>WAIT 1</c>) and a client of the master Service writes wherever the label is. The API server double
/// stays reachable from both sides, as an API server elsewhere in the cluster would be. Shared by the fence tests and the
/// benchmark.
/// </summary>
public static class IsolatedMaster
{
    const string L = SidecarSet.Label, M = SidecarSet.Master;
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    /// <summary>Pods' Redis addresses and their sidecars' uids (the set must run its sidecars under their own uids).</summary>
    public static PartitionSide Pods(SidecarSet s, params int[] pods) => new(
        pods.Select(i => s.Set.Redis[i].Ip).ToArray(),
        pods.Select(i => s.SidecarUid(i) ?? throw new InvalidOperationException("start the set with sidecarUids: true to cut a sidecar")).ToArray());

    public static PartitionSide Sentinels(SidecarSet s) => new(s.Set.Sentinels.Select(n => n.Ip).ToArray());

    public static TimeSpan Grace(SidecarSet s) =>
        TimeSpan.FromMilliseconds(int.Parse(s.EnvFor(0)["SENTINEL_LOSS_GRACE_MS"], CultureInfo.InvariantCulture));

    /// <summary>
    /// Isolates the current master for at least <paramref name="hold"/> (and until the majority side has a labelled
    /// master taking acknowledged writes), then heals and waits until the old master is a replica again, the labels
    /// match the Sentinels and the majority-side writer has written on.
    /// </summary>
    public static async Task<IsolationRound> RunAsync(SidecarSet s, string keyPrefix, TimeSpan hold, Action<string> log)
    {
        var old = await s.Set.WaitForSettledAsync(Settle);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels before the cut");
        var i = old.Ordinal;
        var grace = Grace(s);
        var converts = ConvertedLines(s, old);

        await using var isolated = new AckedWriter(() => old, s.Set, keyPrefix + "i:");
        await using var majority = new AckedWriter(() => s.MasterLabelled() is [var k] ? s.Set.Redis[k] : null, s.Set, keyPrefix + "m:");
        isolated.Start();
        majority.Start();
        await s.Set.WaitUntilAsync(() => Task.FromResult(isolated.Acked.Count > 200 && majority.Acked.Count > 200), Settle, "both writers running");

        var rest = s.Set.Redis.Where(n => n != old).Select(n => n.Ip).Concat(s.Set.Sentinels.Select(n => n.Ip)).ToArray();
        var cut = await LoopbackPartition.CutAsync($"{old.Name} and its sidecar isolated", Pods(s, i), new PartitionSide(rest));
        var cutAt = Stopwatch.StartNew();
        var cutWall = DateTimeOffset.UtcNow;
        var isolatedCut = isolated.Elapsed;
        log($"cut {cut}");
        Node newNode;
        TimeSpan failover, labelled;
        bool fencedMetric;
        int readyz, refusedBefore = isolated.Refused;
        try
        {
            string? agreed = null;
            await s.Set.WaitUntilAsync(async () => (agreed = await s.Set.AgreedMasterAsync()) is { } m && m != old.Address, Settle, "the majority side fails over");
            failover = cutAt.Elapsed;
            newNode = s.Set.NodeAt(agreed!);
            var change = await s.Api.Timeline.WaitForAsync(c => c.Pod == newNode.Name && c.Key == L && c.NewValue == M && c.WallTime >= cutWall, Settle);
            labelled = change.WallTime - cutWall;
            var onNew = majority.Acked.Count;
            await s.Set.WaitUntilAsync(() => Task.FromResult(cutAt.Elapsed >= hold && majority.Acked.Count > onNew + 100), Settle + hold,
                "the partition held and the majority side's writer acknowledged on the new master");
            fencedMetric = (await s.HttpAsync(i, "GET", "/metrics")).Body.Contains("\nredis_sidecar_fenced 1\n", StringComparison.Ordinal);
            readyz = (await s.HttpAsync(i, "GET", "/readyz")).Code;
            await isolated.DisposeAsync(); // before the heal: the old master turns into a replica, and writes to it fail anyway
        }
        finally
        {
            cut.Dispose();
        }
        var healAt = Stopwatch.StartNew();
        var healWall = DateTimeOffset.UtcNow;
        log($"healed after {cutAt.Elapsed.TotalSeconds:0.0} s");
        var fenced = s.Api.Events.FirstOrDefault(e => e.Reason == "Fenced" && e.ObjectName == old.Name && e.Time >= cutWall && e.Time <= healWall);

        await s.Set.WaitUntilAsync(async () => await s.Set.RoleAsync(old) == "slave" && await s.Set.OnlineReplicasAsync(newNode) == s.Set.Redis.Count - 1,
            Settle, $"{old.Name} rejoins as a replica of {newNode.Name}");
        var rejoined = healAt.Elapsed;
        TimeSpan? unfenced = null;
        if (fenced is not null)
        {
            await s.Set.WaitUntilAsync(() => Task.FromResult(s.Api.Events.Any(e => e.Reason == "Unfenced" && e.ObjectName == old.Name && e.Time >= healWall)),
                Settle, $"{old.Name}'s fence lifted");
            unfenced = s.Api.Events.First(e => e.Reason == "Unfenced" && e.ObjectName == old.Name && e.Time >= healWall).Time - healWall;
        }
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the heal");
        var count = majority.Acked.Count;
        await s.Set.WaitUntilAsync(() => Task.FromResult(majority.Acked.Count > count + 100), Settle, "the majority side's writer goes on");
        await majority.DisposeAsync();
        var final = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
        var written = isolated.Written;
        var writtenAfterCut = written.Where(w => w.At > isolatedCut).ToArray();
        // Lost or kept is only certain for a write sent once the cut was in place: one answered just after the cut may
        // have reached the replicas just before it (the reply and the replication stream leave together).
        var sentAfterCut = written.Where(w => w.Sent > isolatedCut).Select(w => w.N).ToArray();
        var round = new IsolationRound(
            old.Name, newNode.Name, grace,
            fenced is null ? null : fenced.Time - cutWall, fencedMetric, readyz,
            failover, labelled,
            writtenAfterCut.Select(w => w.At - isolatedCut).ToArray(),
            isolated.Refused - refusedBefore,
            sentAfterCut.Length,
            (await isolated.LostOnAsync(final, sentAfterCut)).Count,
            rejoined, ConvertedLines(s, old) > converts, unfenced,
            majority.Acked.Count, await majority.LostOnAsync(final),
            s.Api.Timeline.MaxConcurrent(L, M));
        log(round.ToString());
        return round;
    }

    /// <summary>How often the Sentinels logged converting <paramref name="node"/> into a replica (<c>+convert-to-slave</c>).</summary>
    static int ConvertedLines(SidecarSet s, Node node)
    {
        var pattern = new Regex(@"\+convert-to-slave slave " + Regex.Escape(node.Address) + " ", RegexOptions.CultureInvariant);
        return s.Set.Sentinels.Sum(n => File.Exists(n.LogPath) ? pattern.Count(File.ReadAllText(n.LogPath)) : 0);
    }
}
