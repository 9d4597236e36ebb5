using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace RedisSidecars.Testing.Chaos;

/// <summary>
/// Random faults against a real <see cref="SidecarSet"/> (3 Redis, 3 Sentinels, 3 published sidecars, the API
/// double) while an <see cref="AckedWriter"/> writes continuously, with the invariants of issue 5 checked after
/// every step:
/// <list type="number">
/// <item>never two pods labelled master at the same instant, over the whole label timeline;</item>
/// <item>once Sentinel settles (every running Sentinel names the same master and it has its replicas online),
/// within <see cref="ChaosOptions.SettleBound"/> exactly one pod is labelled master, it is the Sentinels' master,
/// and every pod's readiness matches DESIGN.md's table (master ready, healthy replicas ready, a killed or
/// hung pod not ready; with no Sentinel majority past the grace: nobody labelled master, the master not ready);</item>
/// <item>no acknowledged write lost (see <see cref="CheckLostAsync"/> for the one case Redis itself allows);</item>
/// <item>every Sentinel's tables are exactly the other Redis pods and the other Sentinels (no stale twins).</item>
/// </list>
/// Besides: a sidecar never exits on its own, a planned handover on the master succeeds, redis-init's empty-restart
/// guard makes an emptied master a replica, the fail-safe disconnects pooled clients of the isolated master.
/// The seed decides the sequence of faults and their parameters; it is printed first so a failure can be replayed.
/// <para>
/// Use: <c>await ChaosRunner.RunAsync(new ChaosOptions { Seed = 7, Steps = 200, StopOnFirstViolation = false, Log = Console.WriteLine })</c>
/// starts its own set and returns a <see cref="ChaosSummary"/> (its <c>ToString()</c> is a Markdown table); or
/// <c>new ChaosRunner(sidecarSet, options).RunAsync(ct)</c> on a set the caller started (one run per instance).
/// With <see cref="ChaosOptions.StopOnFirstViolation"/> a violation throws <see cref="ChaosViolationException"/>
/// (seed, step, invariant, server and sidecar log tails); otherwise violations are collected in the summary and a
/// sidecar that died is restarted, as the kubelet would, so the run goes on.
/// </para>
/// </summary>
public sealed class ChaosRunner
{
    const string L = SidecarSet.Label, M = SidecarSet.Master, Replica = Core.Settings.SidecarDefaults.ReplicaLabelValue;

    readonly SidecarSet s;
    readonly RedisSet set;
    readonly ChaosOptions o;
    readonly Action<string> log;
    readonly TimeSpan lossGrace;
    readonly HashSet<Node> down = [];          // pods expected not ready: killed or SIGSTOPped
    readonly HashSet<Node> hungSentinels = []; // SIGSTOPped Sentinels: left out of "Sentinel settled" and the table checks
    readonly HashSet<long> knownLost = [];     // lost writes already accounted for (excused or reported)
    readonly Dictionary<string, int> checks = new(StringComparer.Ordinal);
    readonly Dictionary<FaultKind, int> faults = [];
    readonly Dictionary<FaultKind, TimeSpan> maxLabelSettle = [], maxRecovery = [], maxWriteGap = [];
    readonly List<ChaosViolation> violations = [];
    readonly List<ChaosStepRecord> stepLog = [];
    AckedWriter? writer;
    Node? master;
    DateTime apiFailingUntil = DateTime.MinValue;
    int step;
    string fault = "setup";
    int lostWrites, lostByRedis, unexpectedFailovers, twoMasterInstantsReported, staleWrites, sidecarCrashes;
    TimeSpan maxStaleWindow;

    public ChaosRunner(SidecarSet sidecars, ChaosOptions options)
    {
        s = sidecars;
        set = sidecars.Set;
        o = options;
        log = options.Log ?? Console.WriteLine;
        lossGrace = TimeSpan.FromMilliseconds(int.Parse(s.EnvFor(0)["SENTINEL_LOSS_GRACE_MS"], CultureInfo.InvariantCulture));
    }

    /// <summary>Starts a fresh <see cref="SidecarSet"/>, runs the chaos steps against it, and disposes it.</summary>
    public static async Task<ChaosSummary> RunAsync(ChaosOptions options, CancellationToken ct = default)
    {
        await using var s = await SidecarSet.StartAsync();
        return await new ChaosRunner(s, options).RunAsync(ct);
    }

    /// <summary>
    /// The faults a seed stands for: with <paramref name="guaranteeCoverage"/> the first steps are a seeded
    /// shuffle of every kind (all kinds once if <paramref name="steps"/> allows), then uniformly random kinds.
    /// </summary>
    public static IReadOnlyList<PlannedFault> Plan(int seed, int steps, IReadOnlyList<FaultKind>? kinds = null, bool guaranteeCoverage = true)
    {
        var rng = new Random(seed);
        var all = (kinds is { Count: > 0 } ? kinds : Enum.GetValues<FaultKind>()).Distinct().ToArray();
        var sequence = new List<FaultKind>();
        if (guaranteeCoverage)
        {
            var shuffled = all.ToArray();
            rng.Shuffle(shuffled);
            sequence.AddRange(shuffled.Take(steps));
        }
        while (sequence.Count < steps) sequence.Add(all[rng.Next(all.Length)]);
        var plan = new List<PlannedFault>();
        for (var i = 0; i < sequence.Count; i++)
        {
            // Every step draws the same amount of randomness, whatever its kind.
            double a = rng.NextDouble(), b = rng.NextDouble();
            int t = rng.Next(3);
            bool v = rng.Next(2) == 0, v3 = rng.Next(3) == 0;
            plan.Add(sequence[i] switch
            {
                FaultKind.KillMaster => new PlannedFault(i + 1, sequence[i], 3 * a, 0, false, 0),
                FaultKind.PauseMaster => new PlannedFault(i + 1, sequence[i], 2 * a, 0, false, 0),
                FaultKind.RestartReplica => new PlannedFault(i + 1, sequence[i], 0, t % 2, v, 0),
                FaultKind.RestartSentinel => new PlannedFault(i + 1, sequence[i], 2 * a, t, false, 0),
                FaultKind.EmptyMasterRestart => new PlannedFault(i + 1, sequence[i], 0, 0, false, 0),
                FaultKind.SentinelsDown => new PlannedFault(i + 1, sequence[i], 1 + 3 * a, 0, false, 0),
                FaultKind.ApiFailure => new PlannedFault(i + 1, sequence[i], 3 + 5 * a, t, false, 0.2 + 0.5 * b),
                FaultKind.Handover => new PlannedFault(i + 1, sequence[i], 0, 0, v3, 0),
                FaultKind.PauseSentinel => new PlannedFault(i + 1, sequence[i], 4 + 6 * a, t, false, 0),
                _ => throw new ArgumentOutOfRangeException(nameof(kinds)),
            });
        }
        return plan;
    }

    public async Task<ChaosSummary> RunAsync(CancellationToken ct = default)
    {
        var total = Stopwatch.StartNew();
        log($"chaos: seed={o.Seed} steps={o.Steps} (replay: {ChaosOptions.SeedVariable}={o.Seed} {ChaosOptions.StepsVariable}={o.Steps})");
        var plan = Plan(o.Seed, o.Steps, o.Faults, o.GuaranteeCoverage);
        log("chaos: plan: " + string.Join(", ", plan.Select(p => $"{p.Step}.{p}")));

        if (o.SentinelDownAfterMs is { } downAfter) await ApplyDownAfterAsync(downAfter);
        master = await SettleAndCheckAsync(new StepState(), "initial state", null, ct) ?? set.Redis[0];
        writer = new AckedWriter(() => s.MasterLabelled() is [var i] ? set.Redis[i] : null, set);
        writer.Start();
        if (!await PollAsync(() => Task.FromResult(writer.Acked.Count > 50 ? null : $"{writer.Acked.Count} writes acknowledged"), TimeSpan.FromSeconds(20), ct))
            Violate("writer-starts", $"the writer got fewer than 50 acknowledged writes in 20 s (errors={writer.Errors})");

        var run = 0;
        try
        {
            foreach (var f in plan)
            {
                ct.ThrowIfCancellationRequested();
                step = f.Step;
                fault = f.ToString();
                faults[f.Kind] = faults.GetValueOrDefault(f.Kind) + 1;
                var st = new StepState();
                var before = master!;
                var ackedAtStart = writer.Acked.Count;
                log($"chaos: step {f.Step}/{plan.Count} {f} (master {before.Name})");

                var epochBefore = await ConfigEpochAsync();
                await InjectAsync(f, st, before, ct);
                // After a handover that reported success the master must have moved; after one that failed (a violation
                // already) whatever Sentinel settles on is checked.
                var after = await SettleAndCheckAsync(st, "after the fault", st.HandedOver ? before : null, ct) ?? before;
                // Failovers nobody asked for (Sentinel failing over a healthy master): not a violation by themselves,
                // but they can lose acknowledged writes in Redis itself, so they are counted, noted and logged.
                var failovers = await ConfigEpochAsync() - epochBefore;
                st.Failovers = (int)failovers;
                var expectedFailovers = f.Kind == FaultKind.Handover ? (st.HandedOver ? 1 : 0) : f.ExpectedFailovers ?? 1;
                st.ExpectedFailovers = expectedFailovers;
                if (failovers > expectedFailovers)
                {
                    var extra = (int)failovers - expectedFailovers;
                    unexpectedFailovers += extra;
                    st.Notes.Add($"{extra} unexpected failover(s) (config epoch {epochBefore} -> {epochBefore + failovers})");
                    log($"chaos: {extra} unexpected failover(s) at step {f.Step} ({f}), config epoch {epochBefore} -> {epochBefore + failovers}; server logs:\n{ServerTails(40)}");
                }
                if (f.Kind == FaultKind.EmptyMasterRestart) await CheckEmptyRestartAsync(st, before, after);
                await CheckLostAsync(st, after);
                master = after;

                var recovery = st.Clock.Elapsed;
                // Close the write-gap measurement: the writer should be acknowledging again on the settled master.
                var ackedNow = writer.Acked.Count;
                if (!await PollAsync(() => Task.FromResult(writer.Acked.Count > ackedNow + 10 ? null : "writer idle"), TimeSpan.FromSeconds(10), ct))
                    st.Notes.Add($"writer did not resume within 10 s of the settled state (errors={writer.Errors})");
                var acked = writer.Acked;
                var gap = LongestGap(acked, ackedAtStart, acked.Count);
                Max(maxLabelSettle, f.Kind, st.LabelSettle);
                Max(maxRecovery, f.Kind, recovery);
                Max(maxWriteGap, f.Kind, gap);
                var record = new ChaosStepRecord(f.Step, f, before.Name, after.Name, recovery, st.SentinelSettle, st.LabelSettle, gap,
                    acked.Count - ackedAtStart, st.LostByRedis, string.Join("; ", st.Notes.Prepend(string.Join(" ", st.Phases))));
                stepLog.Add(record);
                log("chaos: " + record);
                run++;
            }
        }
        finally
        {
            await writer.DisposeAsync();
        }

        // The last writes, now that the writer has stopped.
        fault = "end of run";
        var final = new StepState();
        var m = await SettleAndCheckAsync(final, "end of run", null, ct) ?? master!;
        await CheckLostAsync(final, m);

        var sidecarStats = await SidecarStatsAsync();
        var summary = new ChaosSummary
        {
            Seed = o.Seed,
            StepsPlanned = plan.Count,
            StepsRun = run,
            Duration = total.Elapsed,
            Faults = new Dictionary<FaultKind, int>(faults),
            Checks = new Dictionary<string, int>(checks, StringComparer.Ordinal),
            MaxLabelSettle = new Dictionary<FaultKind, TimeSpan>(maxLabelSettle),
            MaxRecovery = new Dictionary<FaultKind, TimeSpan>(maxRecovery),
            MaxWriteGap = new Dictionary<FaultKind, TimeSpan>(maxWriteGap),
            AckedWrites = writer.Acked.Count,
            LostWrites = lostWrites,
            LostByRedis = lostByRedis,
            UnexpectedFailovers = unexpectedFailovers,
            WriterErrors = writer.Errors,
            SidecarCrashes = sidecarCrashes,
            StaleClientWrites = staleWrites,
            MaxStaleClientWindow = maxStaleWindow,
            SidecarStats = sidecarStats,
            StepLog = [.. stepLog],
            Violations = [.. violations],
        };
        log(summary.ToString());
        return summary;
    }

    sealed class StepState
    {
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public TimeSpan SentinelSettle { get; set; }
        public TimeSpan LabelSettle { get; set; }
        public Loss? Loss { get; set; }
        public Node? Promoted { get; set; }
        public int LostByRedis { get; set; }
        public int Failovers { get; set; }
        public int ExpectedFailovers { get; set; } = 1;
        public bool HandedOver { get; set; }
        public List<string> Notes { get; } = [];
        public List<string> Phases { get; } = [];
        public void Mark(string what) => Phases.Add($"{what}@{Clock.Elapsed.TotalSeconds:0.0}s");
    }

    /// <summary>What was known the moment the master went away: replica offsets (frozen) and the last acknowledged write.</summary>
    sealed record Loss(Node OldMaster, long LastAckedBefore, IReadOnlyDictionary<Node, long> ReplicaOffsets)
    {
        public override string ToString() =>
            $"master {OldMaster.Name} lost after write #{LastAckedBefore}; replica offsets " + string.Join(", ", ReplicaOffsets.Select(r => $"{r.Key.Name}={r.Value}"));
    }

    // ---------------------------------------------------------------- faults

    async Task InjectAsync(PlannedFault f, StepState st, Node m, CancellationToken ct)
    {
        switch (f.Kind)
        {
            case FaultKind.KillMaster:
                set.Kill(m);
                down.Add(m);
                await RecordLossAsync(st, m, ct);
                await SettleAndCheckAsync(st, "killed master still down", m, ct);
                await Task.Delay(TimeSpan.FromSeconds(f.Seconds), ct);
                if (await RestartAsync(m, st) is not null) down.Remove(m);
                break;

            case FaultKind.PauseMaster:
            {
                await using var probe = await StaleClientProbe.OpenAsync(set, m);
                set.Pause(m);
                down.Add(m);
                try
                {
                    await RecordLossAsync(st, m, ct);
                    await SettleAndCheckAsync(st, "old master hung (SIGSTOP)", m, ct);
                    await Task.Delay(TimeSpan.FromSeconds(f.Seconds), ct);
                }
                finally
                {
                    set.Resume(m);
                    down.Remove(m);
                    st.Mark("SIGCONT");
                }
                if (probe is not null)
                {
                    // Measured, not asserted: DESIGN.md leaves a returning old master to Sentinel ("the sidecar only
                    // reports"), but the demotion's CLIENT KILL could not reach the hung server.
                    var (accepted, window, end) = await probe.WriteUntilRefusedAsync($"chaos:stale:{step}", TimeSpan.FromSeconds(20), ct);
                    staleWrites += accepted;
                    if (window > maxStaleWindow) maxStaleWindow = window;
                    st.Notes.Add($"idle pooled connection to the old master {m.Name}: {accepted} plain writes accepted for {window.TotalSeconds:0.0}s after SIGCONT, then {end}");
                }
                break;
            }

            case FaultKind.RestartReplica:
            {
                var replicas = set.Redis.Where(n => n != m).ToArray();
                var r = replicas[f.Target % replicas.Length];
                if (f.Variant && r.Process is { } p)
                {
                    Signals.Send(p.Id, Signals.SIGTERM);
                    await p.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(15), ct);
                }
                else set.Kill(r);
                down.Add(r);
                await SettleAndCheckAsync(st, $"replica {r.Name} down", null, ct);
                if (await RestartAsync(r, st) is not null) down.Remove(r);
                break;
            }

            case FaultKind.RestartSentinel:
            {
                var sentinel = set.Sentinels[f.Target % set.Sentinels.Count];
                set.Kill(sentinel);
                await Task.Delay(TimeSpan.FromSeconds(f.Seconds), ct);
                await RestartAsync(sentinel, st);
                break;
            }

            case FaultKind.PauseSentinel:
            {
                // A hung Sentinel (a frozen node): the other two are still a majority, so nothing may change for the
                // sidecars — and when it comes back, their connections to it must recover without harm.
                var sentinel = set.Sentinels[f.Target % set.Sentinels.Count];
                set.Pause(sentinel);
                hungSentinels.Add(sentinel);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(f.Seconds), ct);
                    await SettleAndCheckAsync(st, $"{sentinel.Name} hung (SIGSTOP)", null, ct);
                }
                finally
                {
                    set.Resume(sentinel);
                    hungSentinels.Remove(sentinel);
                    st.Mark("SIGCONT");
                }
                break;
            }

            case FaultKind.EmptyMasterRestart:
            {
                set.Kill(m);
                down.Add(m);
                await RecordLossAsync(st, m, ct);
                Directory.Delete(m.DataDir, recursive: true); // Node.DataDir recreates it, empty
                var init = await RestartAsync(m, st);
                if (init is null) break;
                down.Remove(m);
                if (!init.Stdout.Contains("role=replica", StringComparison.Ordinal))
                    Violate("empty-restart-guard", $"redis-init started {m.Name} with an empty data dir as: {init.Stdout.Trim()} (stderr: {init.Stderr.Trim()})");
                else Count("empty-restart-guard");
                st.Notes.Add("redis-init: " + init.Stdout.Trim());
                break;
            }

            case FaultKind.SentinelsDown:
            {
                await using var probe = await StaleClientProbe.OpenAsync(set, m);
                foreach (var sentinel in set.Sentinels) set.Kill(sentinel);
                var clock = Stopwatch.StartNew();
                var failSafe = await PollAsync(() => Task.FromResult(FailSafeProblem(m)), lossGrace + o.SettleBound, ct);
                if (!failSafe) Violate("fail-safe", $"no Sentinel for {clock.Elapsed.TotalSeconds:0.0}s (grace {lossGrace.TotalSeconds:0.0}s + bound): {FailSafeProblem(m)}");
                else
                {
                    Count("fail-safe");
                    st.Notes.Add($"fail-safe (nobody labelled master, master not ready) {clock.Elapsed.TotalSeconds:0.0}s after the Sentinels stopped");
                }
                if (failSafe && probe is not null)
                {
                    // The fail-safe is only as good as its CLIENT KILL: a pooled connection must not keep writing to the isolated master.
                    await Task.Delay(500, ct);
                    var (accepted, window, end) = await probe.WriteUntilRefusedAsync($"chaos:isolated:{step}", TimeSpan.FromSeconds(2), ct);
                    if (accepted > 0) Violate("fail-safe-disconnects-clients", $"an idle pooled connection to the isolated master {m.Name} still wrote {accepted} times after the fail-safe ({end})");
                    else Count("fail-safe-disconnects-clients");
                }
                var hold = lossGrace + TimeSpan.FromSeconds(f.Seconds) - clock.Elapsed;
                if (hold > TimeSpan.Zero) await Task.Delay(hold, ct);
                if (FailSafeProblem(m) is { } late) Violate("fail-safe", $"fail-safe state not kept while the Sentinels are down: {late}");
                foreach (var sentinel in set.Sentinels) set.StartServer(sentinel); // their configs as they rewrote them
                st.Mark("sentinels-started");
                break;
            }

            case FaultKind.ApiFailure:
            {
                var start = DateTime.UtcNow;
                apiFailingUntil = start + TimeSpan.FromSeconds(f.Seconds);
                s.Api.FailUntil(TimeSpan.FromSeconds(f.Seconds), 503);
                st.Mark("api-fails");
                if (f.Target != 0) await Task.Delay(TimeSpan.FromSeconds(f.Seconds * f.At), ct);
                if (f.Target == 1)
                {
                    set.Kill(m);
                    down.Add(m);
                    await RecordLossAsync(st, m, ct);
                }
                else if (f.Target == 2)
                {
                    // A handover while the API fails: it may succeed (the pod writer retries) or fail, but it must
                    // answer, and whatever it did must leave a set that settles once the API is back.
                    var (code, body) = await HandoverAsync(m, ct);
                    st.HandedOver = body.StartsWith("HandedOver", StringComparison.Ordinal);
                    st.Mark("handover-answered");
                    st.Notes.Add($"/handover during the outage: {code} {body}");
                    if (code is not (200 or 500)) Violate("handover-answers", $"POST /handover on {m.Name} during an API outage: {code} {body}");
                    else Count("handover-answers");
                }
                var rest = apiFailingUntil - DateTime.UtcNow;
                if (rest > TimeSpan.Zero) await Task.Delay(rest, ct);
                st.Mark("api-back");
                if (f.Target == 1)
                {
                    await SettleAndCheckAsync(st, "killed master still down, API back", m, ct);
                    if (await RestartAsync(m, st) is not null) down.Remove(m);
                }
                break;
            }

            case FaultKind.Handover:
            {
                var i = IndexOf(m);
                if (!f.Variant)
                {
                    var (code, body) = await HandoverAsync(m, ct);
                    st.Notes.Add(body);
                    st.HandedOver = code == 200 && body.StartsWith("HandedOver", StringComparison.Ordinal);
                    if (!st.HandedOver) Violate("handover", $"POST /handover on {m.Name}, the Sentinels' master, answered {code}: {body}");
                    else Count("handover");
                }
                else
                {
                    var code = await s.TerminateSidecarAsync(i, TimeSpan.FromSeconds(40));
                    var log = File.ReadAllText(s.SidecarLog(i));
                    var handed = log.LastIndexOf("handover: HandedOver", StringComparison.Ordinal) > log.LastIndexOf("shutting down", StringComparison.Ordinal);
                    s.StartSidecar(i);
                    st.HandedOver = handed;
                    if (code != 0 || !handed) Violate("handover", $"SIGTERM to {m.Name}'s sidecar (the Sentinels' master): exit {code}, handed over: {handed}; its last log lines:\n{Text.Tail(s.SidecarLog(i), 4)}");
                    else Count("handover");
                }
                break;
            }
        }
    }

    IEnumerable<Node> LiveSentinels => set.Sentinels.Where(x => x.Running && !hungSentinels.Contains(x));

    /// <summary>POST /handover to the pod's sidecar; a connection that ends without an answer is code 0.</summary>
    async Task<(int Code, string Body)> HandoverAsync(Node m, CancellationToken ct)
    {
        try
        {
            var (code, body) = await s.HandoverAsync(IndexOf(m));
            return (code, body.Trim());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return (0, $"no HTTP answer: {e.GetType().Name}: {e.Message}");
        }
    }

    async Task<InitResult?> RestartAsync(Node n, StepState st)
    {
        st.Mark($"restart({n.Name})");
        try { var r = await set.StartAsync(n); st.Mark("up"); return r; }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            Violate("restart-through-redis-init", $"{n.Name} could not be restarted through redis-init: {e.Message}");
            return null;
        }
    }

    /// <summary>Right after the master went away: the replicas' offsets are final (nothing feeds them) and so is the set of acknowledged writes.</summary>
    async Task RecordLossAsync(StepState st, Node oldMaster, CancellationToken ct)
    {
        st.Mark($"lost({oldMaster.Name})");
        await Task.Delay(300, ct); // let the replicas apply what was already in their sockets
        var offsets = new Dictionary<Node, long>();
        foreach (var r in set.Redis.Where(n => n != oldMaster && n.Running && !down.Contains(n)))
            if (await ReplicaOffsetAsync(r) is { } off) offsets[r] = off;
        st.Loss = new Loss(oldMaster, writer!.Acked is { Count: > 0 } a ? a[^1].N : 0, offsets);
        st.Notes.Add(st.Loss.ToString());
    }

    async Task<long?> ReplicaOffsetAsync(Node n)
    {
        var info = (await set.TryExecAsync(n, "INFO", "replication"))?.ToString();
        var line = info?.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => l.StartsWith("slave_repl_offset:", StringComparison.Ordinal));
        return line is not null && long.TryParse(line["slave_repl_offset:".Length..], CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    // ---------------------------------------------------------------- invariants

    /// <summary>
    /// Invariants 1, 2 and 4 at one point of a step. Waits (bounded) for Sentinel to settle, then gives the sidecars
    /// <see cref="ChaosOptions.SettleBound"/> (extended by a running API outage) to get labels and readiness right.
    /// Returns the settled master, or null if Sentinel never settled (a violation).
    /// </summary>
    async Task<Node?> SettleAndCheckAsync(StepState st, string phase, Node? notMaster, CancellationToken ct)
    {
        Node? m = null;
        string? why = null;
        CheckSidecarsAlive(phase);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var settled = await PollAsync(async () => { (m, why) = await SentinelSettledAsync(notMaster); return why; }, o.SentinelSettleTimeout, ct);
            if (!settled)
            {
                Violate("sentinel-settles", $"{phase}: Sentinel did not settle within {o.SentinelSettleTimeout.TotalSeconds:0}s: {why}");
                return null;
            }
            Count("sentinel-settles");
            st.SentinelSettle = st.Clock.Elapsed; // the last phase of a step wins
            st.Mark($"settled({m!.Name})");
            if (st.Loss is not null && st.Promoted is null && m != st.Loss.OldMaster) st.Promoted = m;

            // Invariant 2: the bound runs from "Sentinel settled", or from the API's recovery if that is later.
            var bound = o.SettleBound + Max(TimeSpan.Zero, apiFailingUntil - DateTime.UtcNow);
            var labels = Stopwatch.StartNew();
            string? problem = null;
            var ok = await PollAsync(() =>
            {
                CheckSidecarsAlive(phase, count: false);
                return Task.FromResult(problem = LabelProblem(m!));
            }, bound, ct);
            var still = await SentinelSettledAsync(notMaster);
            if (still.Master != m)
            {
                st.Notes.Add($"{phase}: Sentinel's master changed from {m!.Name} to {still.Master?.Name ?? "?"} ({still.Why}) while waiting for the labels");
                continue; // a new failover: the bound starts again
            }
            if (!ok)
            {
                Violate("labels-and-readiness", $"{phase}: {labels.Elapsed.TotalSeconds:0.0}s after Sentinel settled on {m!.Name} "
                    + $"(bound {bound.TotalSeconds:0}s) labels/readiness still differ from DESIGN.md's table: {problem}\n{await ReplicationDetailAsync()}");
            }
            else
            {
                Count("one-master-label-is-sentinels-master");
                Count("readiness-matches-table");
                if (labels.Elapsed > st.LabelSettle) st.LabelSettle = labels.Elapsed;
                st.Mark("labels");
            }
            break;
        }

        // Invariant 4: tables converge (a restarted Sentinel needs a few hello periods to relearn its peers).
        string? tables = null;
        if (m is not null && LiveSentinels.Any())
        {
            if (await PollAsync(async () => tables = await TablesProblemAsync(m), o.SettleBound, ct)) Count("sentinel-tables-clean");
            else Violate("sentinel-tables-clean", $"{phase}: {tables}");
        }

        CheckNeverTwoMasters(phase);
        return m;
    }

    /// <summary>Sets down-after (and the master-reboot period, which defaults to it) on the running Sentinels, and for redis-init's later restarts.</summary>
    async Task ApplyDownAfterAsync(int ms)
    {
        var value = ms.ToString(CultureInfo.InvariantCulture);
        set.ExtraEnv["SENTINEL_DOWN_AFTER_MS"] = value;
        set.ExtraEnv["SENTINEL_MASTER_REBOOT_DOWN_AFTER_MS"] = value;
        foreach (var x in set.Sentinels)
        {
            var a = await set.TryExecAsync(x, "SENTINEL", "SET", RedisSet.MasterSet, "down-after-milliseconds", value);
            var b = await set.TryExecAsync(x, "SENTINEL", "SET", RedisSet.MasterSet, "master-reboot-down-after-period", value);
            if (a?.ToString() != "OK" || b?.ToString() != "OK")
                throw new InvalidOperationException($"SENTINEL SET on {x.Name} answered {a}/{b}");
        }
        log($"chaos: Sentinel down-after-milliseconds = {value} ms");
    }

    /// <summary>The highest config epoch any running Sentinel reports for the master: one more per completed failover.</summary>
    async Task<long> ConfigEpochAsync()
    {
        long epoch = 0;
        foreach (var x in LiveSentinels)
        {
            var r = await set.TryExecAsync(x, "SENTINEL", "master", RedisSet.MasterSet);
            if (r is null || r.IsNull) continue;
            var fields = r.ToDictionary();
            if (fields.TryGetValue("config-epoch", out var v) && long.TryParse(v.ToString(), CultureInfo.InvariantCulture, out var e)) epoch = Math.Max(epoch, e);
        }
        return epoch;
    }

    async Task<(Node? Master, string? Why)> SentinelSettledAsync(Node? notMaster)
    {
        var running = LiveSentinels.ToArray();
        if (running.Length == 0) return (null, "no Sentinel running");
        var answers = new List<string?>();
        foreach (var x in running) answers.Add(await set.SentinelMasterAsync(x));
        if (answers.Any(a => a is null) || answers.Distinct().Count() != 1)
            return (null, "Sentinels disagree: " + string.Join(", ", running.Zip(answers, (x, a) => $"{x.Name}={a ?? "-"}")));
        var node = set.Redis.FirstOrDefault(n => n.Address == answers[0]);
        if (node is null) return (null, $"Sentinels name an unknown address {answers[0]}");
        if (node == notMaster) return (null, $"Sentinels still name {node.Name}");
        if (down.Contains(node)) return (null, $"Sentinels name {node.Name}, which is down");
        if (await set.RoleAsync(node) != "master") return (null, $"Sentinels name {node.Name}, which is not master (yet)");
        var expected = set.Redis.Count(n => n != node && n.Running && !down.Contains(n));
        var online = await set.OnlineReplicasAsync(node);
        if (online < expected) return (null, $"{node.Name} has {online}/{expected} replicas online");
        return (node, null);
    }

    /// <summary>
    /// A sidecar is long-running: it must never exit on its own (only SIGTERM ends it, and this runner restarts it at once
    /// then). One that did is a violation; it is restarted as the kubelet restarts a native sidecar, so a long run goes on.
    /// </summary>
    void CheckSidecarsAlive(string phase, bool count = true)
    {
        for (var i = 0; i < set.Redis.Count; i++)
        {
            if (s.Sidecar(i) is not { HasExited: true } p) continue;
            var code = p.ExitCode;
            var tail = Text.Tail(s.SidecarLog(i), 6);
            sidecarCrashes++;
            s.StartSidecar(i);
            Violate("sidecars-stay-up", $"{phase}: the redis-sidecar of {set.Redis[i].Name} exited on its own (exit code {code}); restarted it as the kubelet would. Its last log lines:\n{tail}");
        }
        if (count) Count("sidecars-stay-up");
    }

    /// <summary>DESIGN.md's table with Sentinel settled on <paramref name="m"/>; null when every pod matches.</summary>
    string? LabelProblem(Node m)
    {
        var problems = new List<string>();
        for (var i = 0; i < set.Redis.Count; i++)
        {
            var n = set.Redis[i];
            var label = s.LabelOf(i);
            var ready = s.ConditionOf(i);
            if (n == m)
            {
                if (label != M || ready != "True") problems.Add($"{n.Name} is the Sentinels' master but label={label ?? "-"} ready={ready ?? "-"}");
            }
            else if (down.Contains(n) || !n.Running)
            {
                if (label == M || ready == "True") problems.Add($"{n.Name} is down but label={label ?? "-"} ready={ready ?? "-"}");
            }
            else if (label != Replica || ready != "True")
            {
                problems.Add($"{n.Name} is an online replica but label={label ?? "-"} ready={ready ?? "-"}");
            }
        }
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    /// <summary>No Sentinel majority for longer than the grace: nobody labelled master, the master not ready, healthy replicas unchanged.</summary>
    string? FailSafeProblem(Node m)
    {
        var problems = new List<string>();
        for (var i = 0; i < set.Redis.Count; i++)
        {
            var n = set.Redis[i];
            var label = s.LabelOf(i);
            var ready = s.ConditionOf(i);
            if (label == M) problems.Add($"{n.Name} still labelled master");
            if (n == m && ready == "True") problems.Add($"{n.Name} (the isolated master) still ready");
            if (n != m && (label != Replica || ready != "True")) problems.Add($"{n.Name} (a healthy replica) label={label ?? "-"} ready={ready ?? "-"}");
        }
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    async Task<string?> TablesProblemAsync(Node m)
    {
        var problems = new List<string>();
        foreach (var x in LiveSentinels)
            if (await SentinelTables.ProblemAsync(set, x, m) is { } p) problems.Add(p);
        return problems.Count == 0 ? null : string.Join("\n", problems);
    }

    void CheckNeverTwoMasters(string phase)
    {
        var overlaps = TwoMasterInstants();
        if (overlaps.Count > twoMasterInstantsReported)
        {
            var fresh = overlaps.Skip(twoMasterInstantsReported).ToList();
            twoMasterInstantsReported = overlaps.Count;
            Violate("never-two-masters", $"{phase}: {s.Api.Timeline.MaxConcurrent(L, M)} pods labelled master at the same instant: " + string.Join("; ", fresh));
        }
        else Count("never-two-masters");
    }

    /// <summary>Each instant at which a second pod got the master label, with the pods carrying it.</summary>
    List<string> TwoMasterInstants()
    {
        var result = new List<string>();
        var carriers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in s.Api.Timeline.Changes.Where(c => c.Key == L))
        {
            if (c.NewValue == M)
            {
                if (carriers.Add(c.Pod) && carriers.Count > 1)
                    result.Add($"{c.WallTime:HH:mm:ss.fff} {c.Pod} labelled master ({c.Source}) while {string.Join(",", carriers.Where(p => p != c.Pod))} still was");
            }
            else carriers.Remove(c.Pod);
        }
        return result;
    }

    /// <summary>
    /// Invariant 3. Every acknowledged write (SET answered, then <c>WAIT 1</c> answered ≥ 1) must be on the settled
    /// master, with one exception that Redis itself allows.
    /// <para>
    /// Why there is an exception and why it is this narrow: <c>WAIT 1</c> returns once one replica has acknowledged
    /// (REPLCONF ACK) a processed offset at or past the write, so an acknowledged write is on at least one replica.
    /// When the master dies (kill -9, SIGSTOP past down-after, the empty-dir restart, a kill during an API outage)
    /// the replicas' offsets freeze, and all of them are prefixes of the same replication stream. Sentinel's leader
    /// promotes, among eligible replicas, the one with the lowest replica-priority, then the <b>highest processed
    /// offset</b> (sentinelSelectSlave/compareSlavesForPromotion), then the lowest run id. With equal priorities
    /// (as here) the promoted replica therefore holds every acknowledged write — unless the offsets Sentinel
    /// compared were stale: it uses the last INFO it got from each replica, refreshed every 10 s normally and every
    /// 1 s once the master is down, and accepts INFO up to 5 s old while the master is subjectively down. So a
    /// replica with a lower offset can win, and the writes only the other replica acknowledged are then gone for good
    /// (the loser does a full resync from the winner). That is Redis's asynchronous replication, not the sidecar.
    /// </para>
    /// <para>
    /// The check: right after the master goes away this runner reads every replica's <c>slave_repl_offset</c> (frozen by
    /// then) and notes the last acknowledged write. If Sentinel then promoted the replica with the highest offset (or
    /// one tied for it), nothing may be lost. Only if it promoted a replica whose offset was lower than another's may
    /// writes be lost, and only writes acknowledged before the master went away; those are counted as "lost by Redis".
    /// For planned handovers and every fault that leaves the master alive, the check is exact: nothing may be lost.
    /// </para>
    /// </summary>
    async Task CheckLostAsync(StepState st, Node m)
    {
        IReadOnlyList<long> lost;
        try { lost = await writer!.LostOnAsync(m); }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            Violate("no-acked-write-lost", $"could not read the acknowledged writes back from {m.Name}: {e.Message}");
            return;
        }
        var fresh = lost.Where(n => !knownLost.Contains(n)).ToList();
        foreach (var n in fresh) knownLost.Add(n);
        if (fresh.Count == 0) { Count("no-acked-write-lost"); return; }

        var excusable = new List<long>();
        string why = "";
        if (st.Loss is { } loss)
        {
            var promoted = st.Promoted ?? m;
            var max = loss.ReplicaOffsets.Count > 0 ? loss.ReplicaOffsets.Values.Max() : 0;
            if (loss.ReplicaOffsets.TryGetValue(promoted, out var off) && off < max)
            {
                excusable = fresh.Where(n => n <= loss.LastAckedBefore).ToList();
                why = $"Sentinel promoted {promoted.Name} at offset {off} although another replica was at {max} (stale INFO); ";
            }
            else why = $"Sentinel promoted {promoted.Name} at offset {(loss.ReplicaOffsets.TryGetValue(promoted, out var o2) ? o2.ToString(CultureInfo.InvariantCulture) : "?")}, the highest ({max}): nothing may be lost; ";
            why += loss.ToString();
        }
        st.LostByRedis += excusable.Count;
        lostByRedis += excusable.Count;
        if (excusable.Count > 0) st.Notes.Add($"{excusable.Count} acked writes lost by Redis: {why}");
        if (st.Failovers > st.ExpectedFailovers)
            why += $" This step saw {st.Failovers} failover(s), more than it caused: a failover of a healthy master, where a replica not yet reconfigured acknowledges writes the old master takes until it is converted, loses them in Redis itself; see the Sentinel logs.";
        var bad = fresh.Except(excusable).ToList();
        if (bad.Count == 0) { Count("no-acked-write-lost"); return; }
        lostWrites += bad.Count;
        var acked = writer!.Acked;
        var at = acked.Where(a => bad.Contains(a.N)).Take(5).Select(a => $"#{a.N}@{a.At.TotalSeconds:0.000}s").ToList();
        Violate("no-acked-write-lost", $"{bad.Count} acknowledged writes missing on the master {m.Name} (of {acked.Count} acked; last acked #{acked[^1].N}@{acked[^1].At.TotalSeconds:0.000}s): "
            + $"#{bad.Min()}..#{bad.Max()}, first {string.Join(" ", at)}. {why}");
    }

    async Task CheckEmptyRestartAsync(StepState st, Node restarted, Node settledMaster)
    {
        var role = await set.RoleAsync(restarted);
        if (settledMaster == restarted || role != "slave")
            Violate("empty-restart-guard", $"{restarted.Name} restarted with an empty data dir is {role ?? "unreachable"}; Sentinels' master is {settledMaster.Name}");
        else Count("empty-restart-guard");
        var keys = (long?)await set.TryExecAsync(settledMaster, "DBSIZE") ?? -1;
        st.Notes.Add($"{restarted.Name} is a replica again; master {settledMaster.Name} holds {keys} keys");
    }

    // ---------------------------------------------------------------- plumbing

    void Count(string invariant) => checks[invariant] = checks.GetValueOrDefault(invariant) + 1;

    void Violate(string invariant, string message)
    {
        var v = new ChaosViolation(o.Seed, step, fault, invariant, message, Diagnostics());
        violations.Add(v);
        log($"chaos: VIOLATION {invariant} at step {step} ({fault}), seed {o.Seed}: {message}");
        if (o.StopOnFirstViolation) throw new ChaosViolationException(v);
    }

    string Diagnostics()
    {
        var sb = new StringBuilder();
        sb.AppendLine("--- steps so far");
        foreach (var r in stepLog) sb.AppendLine(r.ToString());
        sb.AppendLine("--- label timeline (last 20 changes)");
        foreach (var c in s.Api.Timeline.Changes.Where(c => c.Key == L).TakeLast(20))
            sb.AppendLine($"{c.WallTime:HH:mm:ss.fff} {c.Pod}: {c.OldValue ?? "-"} -> {c.NewValue ?? "-"} ({c.Source})");
        sb.AppendLine("--- servers");
        sb.Append(set.Diagnostics());
        sb.AppendLine("--- sidecars");
        sb.Append(s.Diagnostics());
        return sb.ToString();
    }

    /// <summary>
    /// Per sidecar: what its /metrics and log say about the failovers it saw (how many +switch-master events it
    /// accepted, how many failovers it counted, how many event-to-label latencies it recorded).
    /// </summary>
    async Task<IReadOnlyList<string>> SidecarStatsAsync()
    {
        var lines = new List<string>();
        for (var i = 0; i < set.Redis.Count; i++)
        {
            string Metric(string body, string name) =>
                body.Split('\n').FirstOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal))?[(name.Length + 1)..].Trim() ?? "?";
            var body = "";
            try { body = (await s.HttpAsync(i, "GET", "/metrics")).Body; }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            var log = File.Exists(s.SidecarLog(i)) ? File.ReadAllText(s.SidecarLog(i)) : "";
            int Count(string what) => log.Split('\n').Count(l => l.Contains(what, StringComparison.Ordinal));
            lines.Add($"{set.Redis[i].Name}: +switch-master events accepted={Count("accepted=True") + Count("newer=True")} ignored={Count("accepted=False") + Count("newer=False")}; "
                + $"failovers_observed_total={Metric(body, "redis_sidecar_failovers_observed_total")} "
                + $"event_to_label_seconds_count={Metric(body, "redis_sidecar_event_to_label_seconds_count")} "
                + $"label_patches_total={Metric(body, "redis_sidecar_label_patches_total")} api_errors_total={Metric(body, "redis_sidecar_api_errors_total")}");
        }
        return lines;
    }

    string ServerTails(int lines)
    {
        var sb = new StringBuilder();
        foreach (var n in set.Redis.Concat(set.Sentinels))
        {
            sb.AppendLine($"--- {n.Name} {n.Address} running={n.Running}");
            sb.Append(Text.Tail(n.LogPath, lines));
        }
        return sb.ToString();
    }

    async Task<string> ReplicationDetailAsync()
    {
        var sb = new StringBuilder("replication now:");
        foreach (var n in set.Redis)
        {
            var info = (await set.TryExecAsync(n, "INFO", "replication"))?.ToString() ?? "(no answer)";
            var keep = info.Split('\n').Select(l => l.TrimEnd('\r'))
                .Where(l => l.StartsWith("role:", StringComparison.Ordinal) || l.StartsWith("master_host", StringComparison.Ordinal)
                    || l.StartsWith("master_link_status", StringComparison.Ordinal) || l.StartsWith("master_sync_in_progress", StringComparison.Ordinal)
                    || l.StartsWith("slave", StringComparison.Ordinal) || l.StartsWith("connected_slaves", StringComparison.Ordinal));
            sb.Append($" [{n.Name}{(down.Contains(n) ? " (down)" : "")}: {string.Join(" ", keep)}]");
        }
        return sb.ToString();
    }

    int IndexOf(Node n)
    {
        for (var i = 0; i < set.Redis.Count; i++) if (set.Redis[i] == n) return i;
        throw new ArgumentException($"{n.Name} is not a Redis pod of this set", nameof(n));
    }

    /// <summary>Polls until <paramref name="problem"/> returns null; false when <paramref name="timeout"/> passes first.</summary>
    static async Task<bool> PollAsync(Func<Task<string?>> problem, TimeSpan timeout, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (await problem() is null) return true;
            if (sw.Elapsed >= timeout) return false;
            await Task.Delay(100, ct);
        }
    }

    static TimeSpan LongestGap(IReadOnlyList<(long N, TimeSpan At)> acked, int from, int to)
    {
        var gap = TimeSpan.Zero;
        for (var i = Math.Max(1, from); i < to; i++) gap = Max(gap, acked[i].At - acked[i - 1].At);
        return gap;
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    static void Max(Dictionary<FaultKind, TimeSpan> d, FaultKind k, TimeSpan v)
    {
        if (!d.TryGetValue(k, out var cur) || v > cur) d[k] = v;
    }
}
