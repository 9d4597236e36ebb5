using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>
/// <c>--trace</c>: after each measured round (a handover, a forced failover, the API outage), one merged timeline on stderr (milliseconds from the round's command): the
/// Sentinel events the bench saw, label changes and Ready changes in the double, the master Service's endpoints, the
/// client's longest write gap and the sidecars' log lines. For finding where a gap's time goes.
/// </summary>
public static class Trace
{
    public static bool Enabled { get; set; }

    public static void Round(string title, SidecarSet s, SentinelEvents? ev, DateTimeOffset from, DateTimeOffset to, params (DateTimeOffset At, string What)[] extra)
    {
        if (!Enabled) return;
        var lines = new List<(DateTimeOffset At, string What)>(extra);
        lines.AddRange((ev?.All() ?? []).Select(e => (e.At, $"sentinel {e.Sentinel.Name} {e.Channel} {e.Message}")));
        lines.AddRange(s.Api.Timeline.Changes.Where(c => c.Key == SidecarSet.Label).Select(c => (c.WallTime, $"label    {c.Pod} {c.OldValue ?? "-"} → {c.NewValue ?? "-"} ({c.Source})")));
        lines.AddRange(s.MasterEndpoints().Changes.Select(c => (c.WallTime, $"service  ready endpoints [{string.Join(",", c.Ready)}]")));
        lines.AddRange(s.Api.Requests.Where(r => r.Verb is not null and not "watch").Select(r => (r.Time, $"api      {r.Verb} {r.Resource} {r.Path[(r.Path.LastIndexOf('/') + 1)..]} → {r.StatusCode} (arrived)")));
        var ready = new Dictionary<string, bool>();
        foreach (var p in s.Api.PodStates)
            if (!ready.TryGetValue(p.Pod, out var was) || was != p.Ready) { ready[p.Pod] = p.Ready; lines.Add((p.WallTime, $"pod      {p.Pod} Ready={p.Ready}")); }
        for (var i = 0; i < s.Set.Redis.Count; i++)
            foreach (var line in File.ReadLines(s.SidecarLog(i)))
                if (line.Length > 25 && DateTimeOffset.TryParse(line[..24], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                    lines.Add((at, $"sidecar{i} {line[25..]}"));
        Console.Error.WriteLine($"--- trace: {title} (ms from {from:HH:mm:ss.fff})");
        foreach (var (at, what) in lines.Where(l => l.At >= from.AddMilliseconds(-200) && l.At <= to).OrderBy(l => l.At))
            Console.Error.WriteLine($"{(at - from).TotalMilliseconds,8:0.0}  {what}");
    }

    /// <summary>Where the writer's longest gap lay, on the wall clock (<paramref name="started"/>: just before it started): its two ends, or none.</summary>
    public static (DateTimeOffset At, string What)[] Gap(AckedWriter writer, DateTimeOffset started)
    {
        var a = writer.Acked;
        var (at, gap) = (0, TimeSpan.Zero);
        for (var i = 1; i < a.Count; i++) if (a[i].At - a[i - 1].At > gap) (at, gap) = (i, a[i].At - a[i - 1].At);
        return at == 0 ? [] : [(started + a[at - 1].At, $"client   last acknowledged write before the gap (w:{a[at - 1].N})"), (started + a[at].At, $"client   first acknowledged write after it (w:{a[at].N}), gap {gap.TotalMilliseconds:0} ms")];
    }
}
