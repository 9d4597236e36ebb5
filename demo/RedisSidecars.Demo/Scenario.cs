using System.Diagnostics;
using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Demo;

/// <summary>What one failover or handover took, measured from the moment the command was sent.</summary>
public sealed record Measurement(string Name, string Command, TimeSpan? Returned, string OldPod, string NewPod, TimeSpan FirstSentinel, TimeSpan AllSentinels, long? Epoch,
    TimeSpan? NewLabelled, TimeSpan? OldUnlabelled, TimeSpan Serving, TimeSpan NoMasterLabel, int MaxLabelled, TimeSpan Settled);

/// <summary>The scripted part: a Sentinel failover, then a planned handover, each measured.</summary>
public sealed class Scenario(Cluster cluster, Ui ui, HttpClient http, Probe probe) : IAsyncDisposable
{
    static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);
    readonly Resp[] sentinels = [.. cluster.Set.Sentinels.Select(n => new Resp(n.Ip, n.Port))];

    /// <summary>Polls until every pod matches the Sentinels (labels, readiness, replication); returns the settled snapshot.</summary>
    public async Task<Snapshot> WaitSettledAsync(string what, CancellationToken ct, TimeSpan? timeout = null, Action<Snapshot>? each = null)
    {
        var sw = Stopwatch.StartNew();
        string? why = null;
        while (sw.Elapsed < (timeout ?? Budget))
        {
            if (cluster.ExitedSidecar() is { } exited) throw new DemoFailure(exited);
            var s = await probe.TakeAsync(ct);
            each?.Invoke(s);
            why = s.Unsettled();
            if (why is null) return s;
            await Task.Delay(50, ct);
        }
        throw new DemoFailure($"not settled within {(timeout ?? Budget).TotalSeconds:0} s waiting for {what}: {why}");
    }

    /// <summary>SENTINEL FAILOVER mymaster on the first Sentinel (retried while it answers e.g. -NOGOODSLAVE).</summary>
    public async Task<Measurement> FailoverAsync(CancellationToken ct)
    {
        var before = await WaitSettledAsync("the set to settle before the failover", ct);
        var old = before.AgreedMaster!;
        var sentinel = sentinels[0];
        var tries = Stopwatch.StartNew();
        while (true)
        {
            var t0 = DateTimeOffset.UtcNow;
            var sw = Stopwatch.StartNew();
            object? reply;
            try { reply = await sentinel.ExecAsync(TimeSpan.FromSeconds(2), ct, "SENTINEL", "FAILOVER", RedisSet.MasterSet); }
            catch (RespUnavailableException e) { reply = new RespError(e.Message); }
            if (reply as string == "OK")
            {
                var returned = sw.Elapsed;
                ui.Event($"command  SENTINEL FAILOVER {RedisSet.MasterSet} → {sentinel.Address}: OK", t0);
                return await ObserveAsync("failover", "SENTINEL FAILOVER", old, t0, sw, Task.FromResult<TimeSpan?>(returned), ct);
            }
            var error = reply is RespError r ? r.Message : reply?.ToString();
            ui.Event($"command  SENTINEL FAILOVER → {error}; retrying");
            if (tries.Elapsed > TimeSpan.FromSeconds(15)) throw new DemoFailure($"SENTINEL FAILOVER refused: {error}");
            await Task.Delay(500, ct);
        }
    }

    /// <summary>POST /handover on the master's sidecar: it drops its label, pauses writes, lets a replica catch up, asks Sentinel to fail over.</summary>
    public async Task<Measurement> HandoverAsync(CancellationToken ct)
    {
        var before = await WaitSettledAsync("the set to settle before the handover", ct);
        var old = before.AgreedMaster!;
        var i = cluster.Set.Redis.ToList().FindIndex(n => n.Address == old);
        var url = new Uri($"http://127.0.0.1:{Cluster.SidecarPorts[i]}/handover");
        var t0 = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        ui.Event($"command  POST {url} ({cluster.Set.Redis[i].Name}'s sidecar)", t0);
        var post = PostAsync(url, sw, ct);
        return await ObserveAsync("handover", "POST /handover", old, t0, sw, post, ct);
    }

    async Task<TimeSpan?> PostAsync(Uri url, Stopwatch sw, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(Budget);
        using var response = await http.PostAsync(url, null, cts.Token);
        var body = (await response.Content.ReadAsStringAsync(cts.Token)).Trim();
        var took = sw.Elapsed;
        ui.Event($"command  POST /handover → {(int)response.StatusCode} {body}");
        if (!response.IsSuccessStatusCode || !body.StartsWith("HandedOver", StringComparison.Ordinal))
            throw new DemoFailure($"POST /handover answered {(int)response.StatusCode} {body}");
        return took;
    }

    async Task<Measurement> ObserveAsync(string name, string commandText, string old, DateTimeOffset t0, Stopwatch sw, Task<TimeSpan?> command, CancellationToken ct)
    {
        ui.Phase($"{name}: waiting for the Sentinels to agree on a new master (was {Pod(old)})");
        TimeSpan? first = null, all = null;
        string? master = null;
        while (all is null)
        {
            if (sw.Elapsed > Budget) throw new DemoFailure($"{name}: the Sentinels did not agree on a new master within {Budget.TotalSeconds:0} s");
            if (command.IsFaulted) await command;
            var states = await Task.WhenAll(sentinels.Select(c => Probe.SentinelAsync(c, ct, withEpoch: false)));
            var at = sw.Elapsed;
            if (first is null && states.Any(s => s.Master is not null && s.Master != old)) first = at;
            if (states.All(s => s.Master is not null && s.Master != old && s.Master == states[0].Master)) (all, master) = (at, states[0].Master);
            else await Task.Delay(10, ct);
        }
        ui.Phase($"{name}: Sentinels agree on {Pod(master!)}; waiting for labels and readiness to follow");
        var returned = await command.WaitAsync(Budget, ct);
        TimeSpan? serving = null;
        var settledSnapshot = await WaitSettledAsync($"labels and readiness after the {name}", ct, each: s =>
        {
            if (serving is null && s.Serves(master!)) serving = sw.Elapsed;
        });
        serving ??= sw.Elapsed;
        var settled = sw.Elapsed;
        if (settledSnapshot.AgreedMaster != master) throw new DemoFailure($"{name}: the master moved again, to {settledSnapshot.AgreedMaster}");

        var (changes, _) = await Timeline.FetchAsync(http, Cluster.ApiBase, ct);
        var roleChanges = changes.Where(c => c.Key == SidecarSet.Label).ToList();
        var (oldPod, newPod) = (Pod(old), Pod(master!));
        var newLabelled = roleChanges.FirstOrDefault(c => c.Time >= t0 && c.Pod == newPod && c.New == SidecarSet.Master)?.Time - t0;
        var oldUnlabelled = roleChanges.FirstOrDefault(c => c.Time >= t0 && c.Pod == oldPod && c.Old == SidecarSet.Master && c.New != SidecarSet.Master)?.Time - t0;
        var carriers = new HashSet<string>();
        void Apply(LabelChange c) { if (c.New == SidecarSet.Master) carriers.Add(c.Pod); else carriers.Remove(c.Pod); }
        foreach (var c in roleChanges.Where(c => c.Time < t0)) Apply(c);
        var max = carriers.Count;
        var without = TimeSpan.Zero;
        DateTimeOffset? noneSince = carriers.Count == 0 ? t0 : null;
        foreach (var c in roleChanges.Where(c => c.Time >= t0))
        {
            Apply(c);
            max = Math.Max(max, carriers.Count);
            if (carriers.Count == 0) noneSince ??= c.Time;
            else if (noneSince is { } since) { without += c.Time - since; noneSince = null; }
        }
        return new Measurement(name, commandText, returned, oldPod, newPod, first!.Value, all.Value, settledSnapshot.Epoch, newLabelled, oldUnlabelled, serving.Value, without, max, settled);
    }

    string Pod(string address) => cluster.Set.Redis.FirstOrDefault(n => n.Address == address)?.Name ?? address;

    public static string Ms(TimeSpan? t) => t is { } v ? v.TotalMilliseconds.ToString("#,0", CultureInfo.InvariantCulture) + " ms" : "never";

    static string N(TimeSpan? t) => t is { } v ? v.TotalMilliseconds.ToString("#,0", CultureInfo.InvariantCulture) : "-";

    /// <summary>The measurements side by side, one column per run, milliseconds after the command was sent.</summary>
    public static IEnumerable<string> Summary(IReadOnlyList<Measurement> ms)
    {
        string Row(string what, Func<Measurement, string> value, string note = "") =>
            $"  {what,-38}" + string.Concat(ms.Select(m => value(m).PadLeft(20))) + (note.Length > 0 ? "  " + note : "");
        yield return Row("ms after the command was sent", m => m.Command);
        yield return Row("", m => $"{m.OldPod} → {m.NewPod}");
        yield return Row("command returned", m => N(m.Returned));
        yield return Row("first Sentinel names the new master", m => N(m.FirstSentinel));
        yield return Row("all 3 Sentinels agree", m => N(m.AllSentinels), "(polled, 10 ms)");
        yield return Row("old master unlabelled", m => N(m.OldUnlabelled), "(double's timeline)");
        yield return Row("new master labelled", m => N(m.NewLabelled), "(double's timeline)");
        yield return Row("new master labelled + ready", m => N(m.Serving), "(polled)");
        yield return Row("no pod labelled master for", m => N(m.NoMasterLabel));
        yield return Row("most pods labelled master at once", m => m.MaxLabelled.ToString(CultureInfo.InvariantCulture),
            ms.All(m => m.MaxLabelled == 1) ? "(must be 1: ok)" : "(must be 1: FAIL)");
        yield return Row("old master a linked replica, all ready", m => N(m.Settled), "(Sentinel's pace)");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in sentinels) await c.DisposeAsync();
    }
}
