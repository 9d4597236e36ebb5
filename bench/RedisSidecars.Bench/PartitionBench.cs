using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>
/// A real partition (iptables on loopback) isolating the master and its sidecar from the Sentinels and the replicas, with
/// and without the fence: what the isolated master acknowledged, when the fence came, the majority side's failover, the
/// old master's return as a replica after the heal, lost writes, and whether two pods were ever labelled master.
/// </summary>
public static class PartitionBench
{
    const string S = "partition";

    /// <summary>Runs the section; writes its own table to <c>partition.md</c> beside <paramref name="output"/> (unless that is the output).</summary>
    public static async Task RunAsync(Report report, bool quick, string output)
    {
        var rounds = quick ? 1 : 5;
        var own = new Report();
        void Add(string metric, string value, string note = "")
        {
            own.Add(S, metric, value, note);
            report.Add(S, metric, value, note);
        }
        var setup = false;
        foreach (var fence in new[] { false, true })
        {
            await using var s = await SidecarSet.StartAsync(sidecarEnv: fence ? null : new Dictionary<string, string> { ["FENCE_ENABLED"] = "false" }, sidecarUids: true);
            await s.WaitForLabelsToMatchSentinelsAsync(TimeSpan.FromSeconds(60), "initial labels");
            var grace = IsolatedMaster.Grace(s);
            if (!setup)
            {
                setup = true;
                Add("setup", $"{rounds} round(s) without and with the fence; SENTINEL_LOSS_GRACE_MS={grace.TotalMilliseconds:0}, RECONCILE_INTERVAL_MS={s.EnvFor(0)["RECONCILE_INTERVAL_MS"]}, "
                    + $"SENTINEL_DOWN_AFTER_MS={s.Set.EnvFor(s.Set.Sentinels[0])["SENTINEL_DOWN_AFTER_MS"]}",
                    "iptables cuts the master's Redis and its sidecar (own uid) from the Sentinels and the replicas, ~8 s, then heals; the API double stays reachable from both sides");
            }
            var results = new List<IsolationRound>();
            for (var r = 0; r < rounds; r++)
            {
                Console.WriteLine($"partition: fence {(fence ? "on" : "off")}, round {r + 1}/{rounds}");
                results.Add(await IsolatedMaster.RunAsync(s, $"{(fence ? "f" : "n")}{r}:", grace + TimeSpan.FromSeconds(5), line => Console.WriteLine("  " + line)));
            }
            var name = fence ? "fence on" : "fence off (FENCE_ENABLED=false)";
            var bound = results[0].Bound;
            Add($"{name}: writes the isolated master acknowledged after the cut", Total(results.Select(r => r.WrittenAfterCut.Count)),
                "SET answered OK; a pooled SET + WAIT 1 (200 ms) client on the master's side: WAIT answers 0 once the replicas are cut, about 5 writes/s");
            Add($"{name}: … later than grace + 1 s ({bound.TotalSeconds:0.0} s) after the cut", Total(results.Select(r => r.WrittenAfterBound)),
                fence ? "goal: 0" : "what the fence prevents");
            Add($"{name}: last write it acknowledged, after the cut", Seconds(results.Select(r => r.LastWrittenAfterCut)), "");
            Add($"{name}: … of those sent after the cut, lost once it rejoined", $"{results.Sum(r => r.SentAfterCutLost)} of {results.Sum(r => r.SentAfterCut)}",
                "discarded by the resync from the new master (a write answered just after the cut may have reached the replicas just before it)");
            if (fence)
            {
                Add($"{name}: fence (Fenced event) after the cut", Seconds(results.Select(r => r.FencedAfterCut)),
                    $"{results.Count(r => r.FencedAfterCut is not null)}/{results.Count} rounds fenced; the rule: no Sentinel majority for longer than the grace and not every replica in sync");
                Add($"{name}: writes refused with -NOREPLICAS while cut", Total(results.Select(r => r.RefusedWhileCut)), "clients get an error at once, no hang");
                Add($"{name}: heal → fence lifted (Unfenced event)", Seconds(results.Select(r => r.UnfencedAfterHeal)), "lifted once Sentinel has made it a replica");
            }
            Add($"{name}: cut → the Sentinels agree on a new master", Seconds(results.Select(r => (TimeSpan?)r.FailoverAfterCut)), "the majority side's failover (polled every 100 ms)");
            Add($"{name}: cut → new master labelled", Seconds(results.Select(r => (TimeSpan?)r.NewMasterLabelledAfterCut)), "");
            Add($"{name}: heal → old master a replica of the new one, in sync", Seconds(results.Select(r => (TimeSpan?)r.RejoinedAfterHeal)),
                $"converted by Sentinel (+convert-to-slave) in {results.Count(r => r.ConvertedBySentinel)}/{results.Count} rounds");
            Add($"{name}: acknowledged writes lost (WAIT 1, client of the master Service)", $"{results.Sum(r => r.MajorityLost.Count)} of {results.Sum(r => r.MajorityAcked)}",
                "per round: " + string.Join(",", results.Select(r => r.MajorityLost.Count)));
            var most = results.Max(r => r.MaxMastersLabelled);
            Add($"{name}: never two masters labelled", most <= 1 ? "yes" : "VIOLATED", $"most pods labelled master at once: {most}");
        }

        var file = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(output))!, "partition.md");
        if (Path.GetFullPath(output) == file) return;
        var header = $"# RedisSidecars benchmark: partition ({(quick ? "quick" : "full")} run, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)\n\n"
            + $"Machine: {Environment.ProcessorCount} cores; real redis-server/redis-sentinel and published sidecars on loopback addresses.";
        File.WriteAllText(file, own.Render(header));
        Console.WriteLine($"written to {file}");
    }

    static string Total(IEnumerable<int> perRound)
    {
        var all = perRound.ToArray();
        return $"{all.Sum()}" + (all.Length > 1 ? $" (per round: {string.Join(",", all)})" : "");
    }

    static string Seconds(IEnumerable<TimeSpan?> values)
    {
        var all = values.ToArray();
        var seen = all.Where(v => v is not null).Select(v => v!.Value.TotalSeconds).OrderBy(v => v).ToArray();
        if (seen.Length == 0) return "never";
        var text = string.Create(CultureInfo.InvariantCulture, $"median {Stats.Percentile(seen, 50):0.00} s, min {seen[0]:0.00} s, max {seen[^1]:0.00} s");
        return seen.Length == all.Length ? text : text + $" ({all.Length - seen.Length} never)";
    }
}
