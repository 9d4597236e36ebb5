using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>
/// Planned handovers at Sentinel's pace, with a pooled <c>WAIT 1</c> client writing through the master Service's ready
/// endpoint: per round, Sentinel's own promotion time (SENTINEL FAILOVER → <c>+promoted-slave</c>, from the Sentinel that
/// accepted), the client's longest write gap, their difference, and acknowledged writes lost. Against a plain SENTINEL
/// FAILOVER without a sidecar's handover as the baseline.
/// </summary>
public static class Handovers
{
    const string L = SidecarSet.Label, M = SidecarSet.Master;
    const string S = "handover";
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(40);

    /// <param name="BeforeMs">From the client's last acknowledged write before its gap to the accepting Sentinel's +try-failover.</param>
    /// <param name="AfterMs">From +promoted-slave to the client's first acknowledged write after its gap.</param>
    sealed record Round(double PromotionMs, double? LoggedPromotionMs, double? ReportedMs, double GapMs, double BeforeMs, double AfterMs, int Lost, int Acked, string Answer);

    public static async Task RunAsync(Report report, Counts n, Flavour f)
    {
        var c = f.Column;
        await using var s = await f.StartSetAsync(Settle);
        await using var ev = await SentinelEvents.StartAsync(s.Set, "+try-failover", "+promoted-slave");
        var rounds = new List<Round>();
        for (var round = 0; round < n.Handovers; round++)
            rounds.Add(await RoundAsync(s, ev, planned: true, f));
        Add(report, "POST /handover", c, rounds, f);
        if (s.Api.Timeline.MaxConcurrent(L, M) is var max and > 1) report.Set(S, "most pods labelled master at once", c, max.ToString(CultureInfo.InvariantCulture), "", new Goal("1", false));

        if (f.Old) return;
        // The baseline: the same client and measurements, Sentinel alone (no pause, no REPLICAOF, no client kill).
        var plain = new List<Round>();
        for (var round = 0; round < n.Handovers; round++)
            plain.Add(await RoundAsync(s, ev, planned: false, f));
        Add(report, "baseline: plain SENTINEL FAILOVER", c, plain, f);
    }

    static async Task<Round> RoundAsync(SidecarSet s, SentinelEvents ev, bool planned, Flavour f)
    {
        var master = await s.Set.WaitForSettledAsync(Settle);
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels before the round");
        await s.Set.WaitUntilAsync(() => Task.FromResult(s.ServiceEndpoint() == master), Settle, $"{master.Name} is the master Service's ready endpoint");
        await s.Set.TryExecAsync(master, "FLUSHALL");
        await using var writer = new AckedWriter(s.ServiceEndpoint, s.Set);
        var writerStarted = DateTimeOffset.UtcNow;
        writer.Start();
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 300), Settle, "writer running");
        ev.Reset();
        var asked = DateTimeOffset.UtcNow;
        var answer = "";
        if (planned)
        {
            var (code, body) = await s.HandoverAsync(master.Ordinal);
            answer = body.Trim();
            if (code != 200 || !answer.StartsWith("HandedOver", StringComparison.Ordinal)) throw new InvalidOperationException($"{f.Column}: POST /handover answered {code} {answer}");
        }
        else
        {
            await s.Set.WaitUntilAsync(() => s.Set.TryFailoverAsync(s.Set.Sentinels[0]), Settle, "FAILOVER accepted");
        }
        // The accepting Sentinel announces +try-failover when it starts and +promoted-slave once the replica reports role master.
        var tried = await ev.WaitAsync("+try-failover", Settle);
        var promoted = await ev.WaitAsync("+promoted-slave", Settle, tried.Sentinel);
        var loggedTry = SentinelLog.Find(tried.Sentinel, "+try-failover", asked.AddSeconds(-1));
        var loggedPromoted = SentinelLog.Find(tried.Sentinel, "+promoted-slave", asked.AddSeconds(-1));
        await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != master.Address, Settle, "Sentinels agree on the new master");
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the switch");
        var newMaster = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
        var count = writer.Acked.Count;
        await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > count + 300), Settle, "writer continues through the Service");
        await writer.DisposeAsync();
        await s.Set.WaitUntilAsync(async () => await s.Set.OnlineReplicasAsync(newMaster) == s.Set.Redis.Count - 1, Settle, "replicas resynced");
        var lost = (await writer.LostOnAsync(newMaster)).Count;
        var gap = Trace.Gap(writer, writerStarted);
        Trace.Round($"{f.Column} {(planned ? "POST /handover" : "SENTINEL FAILOVER")} {master.Name} → {newMaster.Name}", s, ev, asked, DateTimeOffset.UtcNow,
            [(asked, "bench    " + (planned ? "POST /handover" : "SENTINEL FAILOVER")), .. gap]);
        return new Round((promoted.At - tried.At).TotalMilliseconds,
            loggedTry is { } a && loggedPromoted is { } b ? (b - a).TotalMilliseconds : null,
            planned && !f.Old ? Flavour.ReportedPromotionMs(answer) : null,
            writer.LongestGap().TotalMilliseconds,
            gap.Length == 2 ? (tried.At - gap[0].At).TotalMilliseconds : double.NaN,
            gap.Length == 2 ? (gap[1].At - promoted.At).TotalMilliseconds : double.NaN,
            lost, writer.Acked.Count, answer);
    }

    static void Add(Report report, string name, string c, List<Round> rounds, Flavour f)
    {
        var promotion = rounds.Select(r => r.PromotionMs).ToList();
        var gaps = rounds.Select(r => r.GapMs).ToList();
        var diff = rounds.Select(r => r.GapMs - r.PromotionMs).ToList();
        var lost = rounds.Sum(r => r.Lost);
        var main = name.StartsWith("POST", StringComparison.Ordinal);
        var note = f.Old && main ? "" : $"{rounds.Count} round(s)";
        report.Set(S, $"{name}: Sentinel's promotion (SENTINEL FAILOVER → +promoted-slave)", c, Stats.Dist(promotion),
            note + (f.Old && main ? "" : "; +try-failover → +promoted-slave of the accepting Sentinel, as the bench's subscriber saw them; its log stamps: "
                + Stats.Dist([.. rounds.Where(r => r.LoggedPromotionMs is not null).Select(r => r.LoggedPromotionMs!.Value)])));
        if (main && !f.Old)
            report.Set(S, $"{name}: promotion as the handover answer reports it", c, Stats.Dist([.. rounds.Where(r => r.ReportedMs is not null).Select(r => r.ReportedMs!.Value)]),
                "last answer: " + rounds[^1].Answer);
        report.Set(S, $"{name}: client's write gap", c, Stats.Dist(gaps), main && !f.Old ? "pooled WAIT 1 writer through the master Service's ready endpoint; longest pause between two acknowledged writes" : "");
        report.Set(S, $"{name}: write gap − promotion", c, Stats.Dist(diff), "",
            main ? new Goal("p95 ≤ 100 ms", Stats.Percentile(diff, 95) <= 100) : null);
        if (main)
        {
            report.Set(S, $"{name}: of the gap, before SENTINEL FAILOVER", c, Stats.Dist([.. rounds.Select(r => r.BeforeMs)]),
                f.Old ? "" : "last acknowledged write → the accepting Sentinel's +try-failover: writes paused, waiting for a replica to reach the master's offset");
            report.Set(S, $"{name}: of the gap, after the promotion", c, Stats.Dist([.. rounds.Select(r => r.AfterMs)]),
                f.Old ? "" : "+promoted-slave → first acknowledged write on the new master (REPLICAOF, unpause, client kill, label, Service endpoint, reconnect)");
        }
        report.Set(S, $"{name}: acknowledged writes lost", c, $"{lost} of {rounds.Sum(r => r.Acked)}", "per round: " + string.Join(",", rounds.Select(r => r.Lost)),
            main ? new Goal("0", lost == 0) : null);
    }
}
