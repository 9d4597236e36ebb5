using System.Diagnostics;
using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Demo;

/// <summary>What one failover or handover took, measured from the moment the command was sent.</summary>
/// <param name="Promoted">The accepting Sentinel's <c>+promoted-slave</c>, as the demo's subscriber received it.</param>
/// <param name="Serving">The new master is the master Service's one ready endpoint (the double's endpoints).</param>
/// <param name="NoEndpoint">The longest stretch without a ready endpoint of the master Service.</param>
/// <param name="Answer">The handover's answer (its outcome line), or null for a failover.</param>
public sealed record Measurement(string Name, string Command, TimeSpan? Returned, string OldPod, string NewPod, TimeSpan? Promoted, TimeSpan AllSentinels, long? Epoch,
    TimeSpan? NewLabelled, TimeSpan? OldUnlabelled, TimeSpan? Serving, TimeSpan NoEndpoint, TimeSpan NoMasterLabel, int MaxLabelled, TimeSpan Settled, string? Answer);

/// <summary>The scripted part: a Sentinel failover, then a planned handover, each measured.</summary>
public sealed class Scenario(Cluster cluster, Ui ui, HttpClient http, Probe probe) : IAsyncDisposable
{
    static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);
    readonly NodeClient[] sentinels = [.. cluster.Set.Sentinels.Select(n => new NodeClient(cluster.Set, n))];
    SentinelEvents? events;

    /// <summary>
    /// Waits until the set has settled — Sentinel's side as <see cref="RedisSet.SettledAsync"/> decides it (one master, one
    /// epoch, every replica linked), then labels, readiness, /readyz and the master Service as <see cref="Snapshot.LabelsProblem"/>
    /// checks them; returns the settled snapshot.
    /// </summary>
    public async Task<Snapshot> WaitSettledAsync(string what, CancellationToken ct, TimeSpan? timeout = null)
    {
        Snapshot? settled = null;
        string? why = null;
        try
        {
            await cluster.Set.WaitUntilAsync(async () =>
            {
                if (cluster.ExitedSidecar() is { } exited) throw new DemoFailure(exited);
                var (master, problem) = await cluster.Set.SettledAsync();
                if (master is null) { why = problem; return false; }
                var s = await probe.TakeAsync(ct);
                why = s.LabelsProblem(master);
                if (why is null) settled = s;
                return why is null;
            }, timeout ?? Budget, what, ct, () => why);
        }
        catch (TimeoutException)
        {
            throw new DemoFailure($"not settled within {(timeout ?? Budget).TotalSeconds:0} s waiting for {what}: {why}");
        }
        return settled!;
    }

    /// <summary>SENTINEL FAILOVER mymaster on the first Sentinel (asked again while it answers e.g. -NOGOODSLAVE).</summary>
    public async Task<Measurement> FailoverAsync(CancellationToken ct)
    {
        var before = await WaitSettledAsync("the set to settle before the failover", ct);
        var old = before.AgreedMaster!;
        var sentinel = sentinels[0];
        events ??= await SentinelEvents.StartAsync(cluster.Set, "+promoted-slave");
        var tries = Stopwatch.StartNew();
        while (true)
        {
            events.Reset();
            var t0 = DateTimeOffset.UtcNow;
            var sw = Stopwatch.StartNew();
            var (ok, error) = await sentinel.TryAsync(async s => { await s.SentinelFailoverAsync(RedisSet.MasterSet); return "OK"; }, ct);
            if (ok is not null)
            {
                var returned = sw.Elapsed;
                ui.Event($"command  SENTINEL FAILOVER {RedisSet.MasterSet} → {sentinel.Node.Address}: OK", t0);
                return await ObserveAsync("failover", "SENTINEL FAILOVER", old, t0, sw, Task.FromResult<(TimeSpan?, string?)>((returned, null)), ct);
            }
            ui.Event($"command  SENTINEL FAILOVER → {error}; asking again");
            if (tries.Elapsed > TimeSpan.FromSeconds(15)) throw new DemoFailure($"SENTINEL FAILOVER refused: {error}");
            await Task.Delay(500, ct);
        }
    }

    /// <summary>POST /handover on the master's sidecar (HANDOVER_PORT): readiness drops, writes pause, a replica catches up, Sentinel fails over.</summary>
    public async Task<Measurement> HandoverAsync(CancellationToken ct)
    {
        var before = await WaitSettledAsync("the set to settle before the handover", ct);
        var old = before.AgreedMaster!;
        var node = cluster.Set.NodeAt(old);
        var url = Cluster.HandoverUrl(node);
        events ??= await SentinelEvents.StartAsync(cluster.Set, "+promoted-slave");
        events.Reset();
        var t0 = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        ui.Event($"command  POST {url} ({node.Name}'s sidecar)", t0);
        return await ObserveAsync("handover", "POST /handover", old, t0, sw, PostAsync(url, sw, ct), ct);
    }

    async Task<(TimeSpan?, string?)> PostAsync(Uri url, Stopwatch sw, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(Budget);
        using var response = await http.PostAsync(url, null, cts.Token);
        var body = (await response.Content.ReadAsStringAsync(cts.Token)).Trim();
        var took = sw.Elapsed;
        ui.Event($"command  POST /handover → {(int)response.StatusCode} {body}");
        if (!response.IsSuccessStatusCode || !body.StartsWith("HandedOver", StringComparison.Ordinal))
            throw new DemoFailure($"POST /handover answered {(int)response.StatusCode} {body}");
        return (took, body);
    }

    async Task<Measurement> ObserveAsync(string name, string commandText, string old, DateTimeOffset t0, Stopwatch sw, Task<(TimeSpan? Took, string? Answer)> command, CancellationToken ct)
    {
        ui.Phase($"{name}: waiting for the Sentinels to agree on a new master (was {Pod(old)})");
        TimeSpan? all = null;
        string? master = null;
        try
        {
            await cluster.Set.WaitUntilAsync(async () =>
            {
                if (command.IsFaulted) await command;
                var states = await Task.WhenAll(sentinels.Select(c => Probe.SentinelAsync(c, ct)));
                if (!states.All(s => s.Master is not null && s.Master != old && s.Master == states[0].Master)) return false;
                (all, master) = (sw.Elapsed, states[0].Master);
                return true;
            }, Budget, "the Sentinels agree on a new master", ct, poll: TimeSpan.FromMilliseconds(10));
        }
        catch (TimeoutException) { throw new DemoFailure($"{name}: the Sentinels did not agree on a new master within {Budget.TotalSeconds:0} s"); }
        ui.Phase($"{name}: Sentinels agree on {Pod(master!)}; waiting for labels, readiness and the master Service to follow");
        var (returned, answer) = await command.WaitAsync(Budget, ct);
        var settledSnapshot = await WaitSettledAsync($"labels, readiness and the master Service after the {name}", ct);
        var settled = sw.Elapsed;
        if (settledSnapshot.AgreedMaster != master) throw new DemoFailure($"{name}: the master moved again, to {settledSnapshot.AgreedMaster}");
        if (answer is not null) ui.Result($"  handover answer: {answer}");

        var (oldPod, newPod) = (Pod(old), Pod(master!));
        var promoted = events!.First("+promoted-slave")?.At - t0;
        var (changes, _) = await Timeline.FetchAsync(http, Cluster.ApiBase, ct);
        var roleChanges = changes.Where(c => c.Key == SidecarSet.Label).ToList();
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

        var endpoints = await Endpoints.FetchAsync(http, Cluster.ApiBase, ct) ?? [];
        var serving = endpoints.FirstOrDefault(c => c.Time >= t0 && c.Ready is [var only] && only == newPod)?.Time - t0;
        var noEndpoint = TimeSpan.Zero;
        DateTimeOffset? emptySince = null;
        foreach (var c in endpoints.Where(c => c.Time >= t0))
        {
            if (c.Ready.Count == 0) emptySince ??= c.Time;
            else if (emptySince is { } since) { noEndpoint = Max(noEndpoint, c.Time - since); emptySince = null; }
        }
        return new Measurement(name, commandText, returned, oldPod, newPod, promoted, all!.Value, settledSnapshot.Epoch, newLabelled, oldUnlabelled,
            serving, noEndpoint, without, max, settled, answer);
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    string Pod(string address) => cluster.Set.Redis.FirstOrDefault(n => n.Address == address)?.Name ?? address;

    public static string Ms(TimeSpan? t) => t is { } v ? v.TotalMilliseconds.ToString("#,0", CultureInfo.InvariantCulture) + " ms" : "never";

    static string N(TimeSpan? t) => t is { } v ? v.TotalMilliseconds.ToString("#,0", CultureInfo.InvariantCulture) : "-";

    /// <summary>The measurements side by side, one column per run, milliseconds after the command was sent.</summary>
    public static IEnumerable<string> Summary(IReadOnlyList<Measurement> ms)
    {
        string Row(string what, Func<Measurement, string> value, string note = "") =>
            $"  {what,-40}" + string.Concat(ms.Select(m => value(m).PadLeft(20))) + (note.Length > 0 ? "  " + note : "");
        yield return Row("ms after the command was sent", m => m.Command);
        yield return Row("", m => $"{m.OldPod} → {m.NewPod}");
        yield return Row("command returned", m => N(m.Returned));
        yield return Row("Sentinel promoted (+promoted-slave)", m => N(m.Promoted), "(Sentinel's pace)");
        yield return Row("old master unlabelled", m => N(m.OldUnlabelled), "(double's timeline)");
        yield return Row("new master labelled", m => N(m.NewLabelled), "(double's timeline)");
        yield return Row("master Service → new master", m => N(m.Serving), "(ready endpoint, double's kubelet probe)");
        yield return Row("all 3 Sentinels agree", m => N(m.AllSentinels), "(polled, 10 ms)");
        yield return Row("no ready endpoint for", m => N(m.NoEndpoint), "(longest stretch)");
        yield return Row("no pod labelled master for", m => N(m.NoMasterLabel));
        yield return Row("most pods labelled master at once", m => m.MaxLabelled.ToString(CultureInfo.InvariantCulture),
            ms.All(m => m.MaxLabelled == 1) ? "(must be 1: ok)" : "(must be 1: FAIL)");
        yield return Row("settled: replicas linked, all ready", m => N(m.Settled), "(Sentinel's pace)");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in sentinels) await c.DisposeAsync();
        if (events is not null) await events.DisposeAsync();
    }
}
