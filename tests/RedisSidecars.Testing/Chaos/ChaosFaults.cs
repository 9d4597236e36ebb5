using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using RedisSidecars.Core.Roles;
using RedisSidecars.Redis;

namespace RedisSidecars.Testing.Chaos;

/// <summary>The faults. Each starts (the fault lands) and returns what ends it, run after the next fault of a compound step.</summary>
public sealed partial class ChaosRunner
{
    /// <summary>
    /// Injects <paramref name="f"/>. What it returns runs later: at once for a single fault or a compound step's "then",
    /// after the second fault for a compound step's "during" (so the second fault lands while this one is in force).
    /// </summary>
    async Task<Func<Task>?> StartAsync(PlannedFault f, StepState st, Expect expect, CancellationToken ct)
    {
        st.Mark(f.Kind.ToString());
        switch (f.Kind)
        {
            case FaultKind.KillMaster:
            {
                var m = await MasterNowAsync(ct);
                set.Kill(m);
                down.Add(m);
                st.ExpectedFailovers++;
                await RecordLossAsync(st, m, ct);
                return async () =>
                {
                    await FailedOverAsync(st, m, "killed", ct);
                    await Task.Delay(Seconds(f.Seconds), ct);
                    if (await RestartAsync(m, st) is not null) down.Remove(m);
                };
            }

            case FaultKind.PauseMaster:
            {
                var m = await MasterNowAsync(ct);
                var probe = await StaleClientProbe.OpenAsync(set, m);
                set.Pause(m);
                down.Add(m);
                st.ExpectedFailovers++;
                await RecordLossAsync(st, m, ct);
                return async () =>
                {
                    try
                    {
                        await FailedOverAsync(st, m, "hung (SIGSTOP)", ct);
                        await Task.Delay(Seconds(f.Seconds), ct);
                    }
                    finally
                    {
                        set.Resume(m);
                        down.Remove(m);
                        st.Mark("SIGCONT");
                    }
                    if (probe is null) return;
                    await using (probe)
                    {
                        // Measured, not asserted: DESIGN.md leaves a returning old master to Sentinel ("the sidecar only
                        // reports"), but the demotion's CLIENT KILL could not reach the hung server.
                        var (accepted, window, end) = await probe.WriteUntilRefusedAsync($"chaos:stale:{step}", TimeSpan.FromSeconds(20), ct);
                        staleWrites += accepted;
                        if (window > maxStaleWindow) maxStaleWindow = window;
                        st.Notes.Add($"idle pooled connection to the old master {m.Name}: {accepted} plain writes accepted for {window.TotalSeconds:0.0}s after SIGCONT, then {end}");
                    }
                };
            }

            case FaultKind.RestartReplica:
            {
                var m = await MasterNowAsync(ct);
                if (ReplicaAt(m, f.Target) is not { } r) { st.Notes.Add("no running replica to restart"); return null; }
                if (f.Variant && r.Process is { } p)
                {
                    Signals.Send(p.Id, Signals.SIGTERM);
                    await p.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(15), ct);
                }
                else set.Kill(r);
                down.Add(r);
                return async () =>
                {
                    await SettleAndCheckAsync(st, $"replica {r.Name} down", null, ct);
                    if (await RestartAsync(r, st) is not null) down.Remove(r);
                };
            }

            case FaultKind.RestartSentinel:
            {
                var sentinel = set.Sentinels[f.Target % set.Sentinels.Count];
                set.Kill(sentinel);
                tiltUntil = DateTime.MinValue; // a restarted Sentinel is not in TILT: one can act again
                return async () =>
                {
                    await Task.Delay(Seconds(f.Seconds), ct);
                    await RestartAsync(sentinel, st);
                };
            }

            case FaultKind.PauseSentinel:
            {
                // A hung Sentinel (a frozen node): the other two are still a majority, so the set must settle without
                // it — and when it comes back, the sidecars' connections to it must recover without harm.
                var sentinel = set.Sentinels[f.Target % set.Sentinels.Count];
                if (!sentinel.Running) { st.Notes.Add($"{sentinel.Name} is not running"); return null; }
                set.Pause(sentinel);
                hungSentinels.Add(sentinel);
                return async () =>
                {
                    try
                    {
                        await Task.Delay(Seconds(f.Seconds), ct);
                        await SettleAndCheckAsync(st, $"{sentinel.Name} hung (SIGSTOP)", null, ct);
                    }
                    finally
                    {
                        set.Resume(sentinel);
                        hungSentinels.Remove(sentinel);
                        st.Mark("SIGCONT");
                    }
                };
            }

            case FaultKind.EmptyMasterRestart:
            {
                var m = await MasterNowAsync(ct);
                set.Kill(m);
                down.Add(m);
                st.ExpectedFailovers++;
                await RecordLossAsync(st, m, ct);
                Directory.Delete(m.DataDir, recursive: true); // Node.DataDir recreates it, empty
                var init = await RestartAsync(m, st);
                if (init is null) return null;
                down.Remove(m);
                if (!init.Stdout.Contains("role=replica", StringComparison.Ordinal))
                    Violate("empty-restart-guard", $"redis-init started {m.Name} with an empty data dir as: {init.Stdout.Trim()} (stderr: {init.Stderr.Trim()})");
                else Count("empty-restart-guard");
                st.Notes.Add("redis-init: " + init.Stdout.Trim());
                var failoversSoFar = st.ExpectedFailovers;
                // A later fault of a compound step that moves mastership again (a handover, a kill) may then promote this
                // node, once it has synced: legitimate, and the lost-writes invariant judges its data.
                st.AtEnd.Add(settled => st.ExpectedFailovers > failoversSoFar
                    ? Task.Run(() => st.Notes.Add($"{m.Name}: mastership moved again later in this step; the guard was checked at its restart"))
                    : CheckEmptyRestartAsync(st, m, settled));
                return null;
            }

            case FaultKind.SentinelsDown:
            {
                var m = await MasterNowAsync(ct);
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
                    var (accepted, _, end) = await probe.WriteUntilRefusedAsync($"chaos:isolated:{step}", TimeSpan.FromSeconds(2), ct);
                    if (accepted > 0) Violate("fail-safe-disconnects-clients", $"an idle pooled connection to the isolated master {m.Name} still wrote {accepted} times after the fail-safe ({end})");
                    else Count("fail-safe-disconnects-clients");
                }
                var hold = lossGrace + Seconds(f.Seconds) - clock.Elapsed;
                if (hold > TimeSpan.Zero) await Task.Delay(hold, ct);
                if (FailSafeProblem(m) is { } late) Violate("fail-safe", $"fail-safe state not kept while the Sentinels are down: {late}");
                foreach (var sentinel in set.Sentinels) set.StartServer(sentinel); // their configs as they rewrote them
                tiltUntil = DateTime.MinValue; // restarted Sentinels are not in TILT
                st.Mark("sentinels-started");
                return null;
            }

            case FaultKind.ApiFailure:
                return await StartApiOutageAsync(f, st, ct);

            case FaultKind.Handover:
            {
                var m = await MasterNowAsync(ct);
                var i = IndexOf(m);
                // Within 30 s of every Sentinel being paused (TILT outlasts its step), no Sentinel can act: if TILT cannot
                // end within the handover's bound, the only right answer is NoSentinelReady, with writes never paused.
                expect = WithTilt(expect);
                var call = f.Variant ? SigtermHandoverAsync(i, st) : HandoverAsync(m, ct);
                return async () =>
                {
                    var (code, body) = await call;
                    st.Mark("handover-answered");
                    await CheckHandoverAsync(st, m, code, body, expect, f.Variant, ct);
                };
            }

            case FaultKind.SentinelsTilt:
            {
                var paused = set.Sentinels.Where(x => x.Running).ToList();
                foreach (var x in paused) { set.Pause(x); hungSentinels.Add(x); }
                try { await Task.Delay(Seconds(f.Seconds), ct); }
                finally
                {
                    foreach (var x in paused) { set.Resume(x); hungSentinels.Remove(x); }
                }
                var resumed = DateTime.UtcNow;
                var inTilt = 0;
                foreach (var x in paused)
                    if (await set.TryAsync(x, server => server.InfoAsync("sentinel")) is { } info
                        && RedisReplies.Flatten(info).GetValueOrDefault("sentinel_tilt") == "1") inTilt++;
                // Sentinel leaves TILT 30 s after the last time anomaly (the resume).
                if (inTilt == paused.Count) tiltUntil = resumed + TimeSpan.FromSeconds(30);
                st.Notes.Add($"{inTilt}/{paused.Count} Sentinels in TILT after a {f.Seconds:0.0}s stop");
                st.Mark("SIGCONT");
                return null;
            }

            case FaultKind.ResyncReplica:
            {
                var m = await MasterNowAsync(ct);
                if (ReplicaAt(m, f.Target) is not { } r) { st.Notes.Add("no running replica to resync"); return null; }
                // Redis' own test knob: a sleep per key while the master produces the sync's RDB, so the full sync lasts
                // about the planned time whatever the dataset's size (negative = one 1 µs sleep every N keys).
                var keys = await set.TryAsync(m, server => server.DatabaseSizeAsync());
                var delay = SaveDelay(keys, Seconds(f.Seconds));
                await set.TryExecAsync(m, "CONFIG", "SET", "rdb-key-save-delay", delay.ToString(CultureInfo.InvariantCulture));
                set.Kill(r);
                down.Add(r);
                Directory.Delete(r.DataDir, recursive: true); // Node.DataDir recreates it, empty
                if (await RestartAsync(r, st) is not null) down.Remove(r);
                st.Notes.Add($"{r.Name} restarted empty: full sync of {keys} keys from {m.Name} (rdb-key-save-delay {delay})");
                return async () =>
                {
                    if (await PollAsync(async () => await set.ReplicationAsync(r) is { IsHealthyReplica: true } ? null : "syncing", TimeSpan.FromSeconds(90), ct))
                        st.Mark($"{r.Name}-synced");
                    else st.Notes.Add($"{r.Name} not in sync within 90 s");
                    await ResetSaveDelayAsync();
                };
            }

            case FaultKind.RollingRestart:
                await RollingRestartAsync(f, st, ct);
                return null;

            default:
                throw new ArgumentOutOfRangeException(nameof(f), f.Kind, "unknown fault kind");
        }
    }

    /// <summary>After the master went away: Sentinel must fail over to another pod; the loss is checked on that one.</summary>
    async Task FailedOverAsync(StepState st, Node old, string how, CancellationToken ct)
    {
        var after = await SettleAndCheckAsync(st, $"old master {old.Name} {how}", old, ct);
        if (after is null) return;
        master = after;
        await CheckLostAsync(st, after);
    }

    /// <summary>The master as a majority of the live Sentinels names it now (a running pod), else the last settled one.</summary>
    async Task<Node> MasterNowAsync(CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var majority = set.Sentinels.Count / 2 + 1;
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            var named = new List<string>();
            foreach (var x in LiveSentinels)
                if (await set.SentinelAnswerAsync(x) is { Master: { } a }) named.Add(a.ToString());
            var agreed = named.GroupBy(a => a).FirstOrDefault(g => g.Count() >= majority)?.Key;
            if (set.Redis.FirstOrDefault(n => n.Address == agreed) is { Running: true } node && !down.Contains(node)) return node;
            await Task.Delay(100, ct);
        }
        return master;
    }

    /// <summary>The <paramref name="target"/>-th running replica of <paramref name="m"/> (in ordinal order), or null.</summary>
    Node? ReplicaAt(Node m, int target)
    {
        var replicas = set.Redis.Where(n => n != m && n.Running && !down.Contains(n)).ToArray();
        return replicas.Length == 0 ? null : replicas[target % replicas.Length];
    }

    static int SaveDelay(long keys, TimeSpan target)
    {
        const double SleepCostUs = 60; // what one usleep costs beyond its argument (timer slack)
        var perKey = target.TotalMicroseconds / Math.Max(keys, 1);
        return perKey >= SleepCostUs + 1 ? (int)(perKey - SleepCostUs) : -(int)Math.Max(1, Math.Round(SleepCostUs / perKey));
    }

    async Task ResetSaveDelayAsync()
    {
        foreach (var n in set.Redis.Where(n => n.Running && !down.Contains(n)))
            await set.TryExecAsync(n, "CONFIG", "SET", "rdb-key-save-delay", "0");
    }

    // ---------------------------------------------------------------- the API

    async Task<Func<Task>> StartApiOutageAsync(PlannedFault f, StepState st, CancellationToken ct)
    {
        var length = Seconds(f.Seconds);
        var until = DateTime.UtcNow + length;
        if (until > apiFailingUntil) apiFailingUntil = until;
        apiOutages[f.Api] = apiOutages.GetValueOrDefault(f.Api) + 1;
        // Every outage ends on its own clock, whatever the step does meanwhile (a check inside it may wait on the API).
        Task ending = Task.CompletedTask;
        switch (f.Api)
        {
            case ApiOutage.Status503: s.Api.FailUntil(length, 503); break;
            case ApiOutage.Blackhole: s.Api.Blackhole(length); break;
            case ApiOutage.Refused: await s.Api.RefuseConnectionsForAsync(length, ct); break;
            case ApiOutage.Hang: s.Api.HangNext(1_000_000, new DateTimeOffset(until)); break;
            case ApiOutage.Slow:
                s.Api.Latency = TimeSpan.FromSeconds(2 + (f.Seconds % 2));
                ending = EndAtAsync(until, () => s.Api.Latency = s.Api.DefaultLatency, ct);
                break;
            case ApiOutage.WatchesCut:
                s.Api.CompactHistory(); // a watch resumed from before this point gets 410: the client must relist
                ending = CutWatchesAsync(until, ct);
                break;
        }
        st.Mark($"api-{f.Api}");
        return async () =>
        {
            var rest = until - DateTime.UtcNow;
            if (rest > TimeSpan.Zero) await Task.Delay(rest, ct);
            await ending;
            s.Api.ClearFaults();
            await s.Api.AcceptConnectionsAsync(ct);
            st.Mark("api-back");
        };
    }

    static async Task EndAtAsync(DateTime until, Action end, CancellationToken ct)
    {
        var rest = until - DateTime.UtcNow;
        if (rest > TimeSpan.Zero) await Task.Delay(rest, ct);
        end();
    }

    async Task CutWatchesAsync(DateTime until, CancellationToken ct)
    {
        for (var k = 0; DateTime.UtcNow < until; k++)
        {
            s.Api.CloseWatches(abrupt: k % 2 == 0);
            await Task.Delay(700, ct);
        }
    }

    // ---------------------------------------------------------------- handovers

    /// <summary>POST /handover to the pod's sidecar (its preStop hook); a connection that ends without an answer is code 0.</summary>
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

    [GeneratedRegex(@"handover: (?<outcome>[A-Za-z]+): (?<rest>.*)$")]
    private static partial Regex OutcomeLine();

    /// <summary>
    /// SIGTERM to the sidecar (a sidecar container restarted alone, e.g. after a failed liveness probe): it hands over
    /// on its way out. Returns its exit code and the outcome its log names; the sidecar is started again at once.
    /// </summary>
    async Task<(int Code, string Body)> SigtermHandoverAsync(int i, StepState st)
    {
        Stopping(i, true);
        try
        {
            int code;
            try { code = await s.TerminateSidecarAsync(i, handoverTimeout + TimeSpan.FromSeconds(20)); }
            catch (TimeoutException)
            {
                s.KillSidecar(i);
                code = -1;
            }
            // The outcome line of the handover it ran on its way out (after its last "shutting down" line).
            var lines = File.ReadAllLines(s.SidecarLog(i));
            var from = Math.Max(0, Array.FindLastIndex(lines, l => l.Contains("shutting down", StringComparison.Ordinal)));
            var outcome = lines.Skip(from).Select(l => OutcomeLine().Match(l))
                .LastOrDefault(x => x.Success && Enum.TryParse<HandoverOutcome>(x.Groups["outcome"].Value, out _));
            s.StartSidecar(i);
            st.Mark("sidecar-restarted");
            return (code, outcome is null ? $"(no handover outcome in its log after SIGTERM)" : outcome.Value["handover: ".Length..]);
        }
        finally { Stopping(i, false); }
    }

    /// <summary>
    /// A handover's answer: one of the documented outcomes, with the right HTTP code (or exit 0 after SIGTERM), the one
    /// <paramref name="expect"/> calls for, and its consequences: HandedOver moves the master; FailoverPending keeps
    /// writes paused until the failover resolves; any other outcome leaves the pod master with writes resumed.
    /// </summary>
    /// <summary>
    /// <paramref name="expect"/> adjusted for TILT now: within 30 s of every Sentinel being paused (TILT outlasts its
    /// step) no Sentinel can act, so if TILT cannot end within the handover's bound the only right answer is
    /// NoSentinelReady, with writes never paused; close to its end, any documented answer.
    /// </summary>
    Expect WithTilt(Expect expect)
    {
        var now = DateTime.UtcNow;
        if (now + handoverTimeout + TimeSpan.FromSeconds(3) < tiltUntil) return Expect.NotIntoTilt;
        if (now < tiltUntil + TimeSpan.FromSeconds(2) || expect == Expect.NotIntoTilt) return Expect.Documented;
        return expect;
    }

    async Task<HandoverOutcome?> CheckHandoverAsync(StepState st, Node m, int code, string body, Expect expect, bool viaSigterm, CancellationToken ct)
    {
        var word = body.Split(':', 2)[0];
        HandoverOutcome? outcome = Enum.TryParse<HandoverOutcome>(word, out var parsed) && Enum.IsDefined(parsed) && word == parsed.ToString() ? parsed : null;
        var name = outcome?.ToString() ?? "undocumented";
        handoverOutcomes[name] = handoverOutcomes.GetValueOrDefault(name) + 1;
        st.Notes.Add($"{(viaSigterm ? "SIGTERM" : "/handover")} on {m.Name}: {(viaSigterm ? $"exit {code}, " : $"{code} ")}{body}");
        if (outcome is not { } o2)
        {
            Violate("handover-answers", $"{(viaSigterm ? "SIGTERM to the sidecar" : "POST /handover")} on {m.Name}: {code} {body} (not a documented outcome)");
            return null;
        }
        var codeOk = viaSigterm ? code == 0 : code == (HandoverOutcomes.IsFailure(o2) ? 500 : 200);
        if (!codeOk) Violate("handover-answers", $"{(viaSigterm ? "SIGTERM to the sidecar" : "POST /handover")} on {m.Name} answered {o2} with {(viaSigterm ? "exit code" : "HTTP")} {code}");
        else Count("handover-answers");

        if (expect == Expect.HandedOver && o2 != HandoverOutcome.HandedOver)
            Violate("handover-outcome", $"a handover of {m.Name} with a Sentinel majority able to act and an online replica answered {o2}, not HandedOver: {body}");
        else if (expect == Expect.NotIntoTilt && o2 != HandoverOutcome.NoSentinelReady)
            Violate("handover-outcome", $"a handover of {m.Name} while every Sentinel is in TILT until after its bound answered {o2}, not NoSentinelReady (no Sentinel can act; writes must never be paused): {body}");
        else Count("handover-outcome");

        switch (o2)
        {
            case HandoverOutcome.HandedOver:
                st.ExpectedFailovers++;
                if (await SettleAndCheckAsync(st, $"handed over from {m.Name}", m, ct) is { } moved) master = moved;
                break;
            case HandoverOutcome.FailoverPending:
                await CheckPendingAsync(st, m, viaSigterm, ct);
                break;
            case HandoverOutcome.NotMaster:
                break; // only a pod that is not master (a replica's preStop) says so
            default:
                await CheckStaysMasterAsync(st, m, o2, ct);
                break;
        }
        return o2;
    }

    /// <summary>Any failed handover but FailoverPending: the pod stays master, and writes were resumed (or never paused).</summary>
    async Task CheckStaysMasterAsync(StepState st, Node m, HandoverOutcome outcome, CancellationToken ct)
    {
        var settled = await SettleAndCheckAsync(st, $"after {outcome} on {m.Name}", null, ct);
        if (settled is null) return;
        master = settled;
        if (settled != m)
            Violate("handover-stays-master", $"{m.Name}'s handover answered {outcome} (stays master) but Sentinel settled on {settled.Name}");
        else if (await WriteProbeAsync(m, TimeSpan.FromSeconds(3)) is { } refused)
            Violate("handover-stays-master", $"{m.Name}'s handover answered {outcome}: it must stay master with writes resumed, but a write on it {refused}");
        else Count("handover-stays-master");
    }

    /// <summary>
    /// FailoverPending: writes stay paused while the accepted failover may still happen (a write on the old master is
    /// not accepted while its sidecar reports the pause), and resume once it resolves: promoted elsewhere, or aborted
    /// and the pod master again with writes resumed.
    /// </summary>
    async Task CheckPendingAsync(StepState st, Node m, bool viaSigterm, CancellationToken ct)
    {
        var i = IndexOf(m);
        if (!viaSigterm)
        {
            // Accepted only if the pause was in force from before the write until after it: a violation for sure.
            if (await PausedAsync(i) == true)
            {
                var refused = await WriteProbeAsync(m, TimeSpan.FromSeconds(1));
                if (refused is null && await PausedAsync(i) == true)
                    Violate("handover-pending-keeps-paused", $"{m.Name}'s handover answered FailoverPending and its sidecar reports writes paused, but a write on it was accepted");
                else Count("handover-pending-keeps-paused");
            }
            if (!await PollAsync(async () => await PausedAsync(i) == true ? "writes still paused" : null, TimeSpan.FromSeconds(90), ct))
                Violate("handover-pending-resolves", $"{m.Name}'s pending failover has not resolved within 90 s: writes still paused");
            else Count("handover-pending-resolves");
        }
        var settled = await SettleAndCheckAsync(st, $"pending failover of {m.Name} resolved", null, ct);
        if (settled is null) return;
        master = settled;
        if (settled != m) { st.ExpectedFailovers++; return; }
        if (await WriteProbeAsync(m, TimeSpan.FromSeconds(3)) is { } still)
            Violate("handover-pending-resolves", $"{m.Name}'s pending failover was aborted (it is master) but a write on it {still}");
        else Count("handover-pending-resolves");
    }

    /// <summary>The sidecar's redis_sidecar_handover_writes_paused gauge; null when it does not answer.</summary>
    async Task<bool?> PausedAsync(int i) => await MetricsAsync(i) is { } body && Metric(body, "redis_sidecar_handover_writes_paused") is { } v ? v == "1" : null;

    /// <summary>A plain write on <paramref name="n"/> itself; null when accepted, else what happened.</summary>
    async Task<string?> WriteProbeAsync(Node n, TimeSpan timeout)
    {
        try
        {
            var reply = await set.TryAsync(n, server => server.ExecuteAsync("SET", $"chaos:probe:{step}", "1").WaitAsync(timeout));
            return reply?.ToString() == "OK" ? null : $"got no answer within {timeout.TotalSeconds:0}s (paused or unreachable)";
        }
        catch (StackExchange.Redis.RedisServerException e) { return $"was refused: {e.Message}"; }
    }

    // ---------------------------------------------------------------- the rolling restart

    /// <summary>
    /// kubectl rollout restart, as the StatefulSet controller carries it out: highest ordinal first; for each pod the
    /// redis container's preStop (POST /handover: the master hands over, a replica answers NotMaster), SIGTERM to Redis,
    /// then to the native sidecar, the pod deleted and created again at the new revision, redis-init, the sidecar, Redis;
    /// the next pod once this one is Ready (plus the planned pause).
    /// </summary>
    async Task RollingRestartAsync(PlannedFault f, StepState st, CancellationToken ct)
    {
        var revision = s.Api.RolloutRestart(SidecarSet.Namespace, SidecarSet.StatefulSet);
        st.Notes.Add($"rollout restart to revision {revision}");
        var first = await MasterNowAsync(ct);
        var moves = 0;
        for (var ordinal = set.Redis.Count - 1; ordinal >= 0; ordinal--)
        {
            var n = set.Redis[ordinal];
            var m = await MasterNowAsync(ct);
            var expectHere = WithTilt(Expect.HandedOver); // an earlier step's TILT may outlast the previous pods
            var (code, body) = await HandoverAsync(n, ct);
            st.Mark($"preStop({n.Name})");
            if (n == m)
            {
                var updated = set.Redis.Where(r => r.Ordinal > ordinal).ToList();
                if (await CheckHandoverAsync(st, n, code, body, expectHere, viaSigterm: false, ct) == HandoverOutcome.HandedOver)
                {
                    moves++;
                    if (updated.Count > 0 && !updated.Contains(master))
                        Violate("rolling-restart-promotes-updated", $"{n.Name}'s handover promoted {master.Name}, which still runs the old revision, although {string.Join(",", updated.Select(u => u.Name))} run the new one");
                    else Count("rolling-restart-promotes-updated");
                }
            }
            else if (!(code == 200 && body.StartsWith(nameof(HandoverOutcome.NotMaster), StringComparison.Ordinal)))
                Violate("handover-answers", $"the preStop hook of {n.Name}, a replica, answered {code} {body} (expected NotMaster)");
            else Count("handover-answers");

            var i = IndexOf(n);
            Stopping(i, true);
            try
            {
                if (await MasterNowAsync(ct) == n) await RecordLossAsync(st, n, ct); // the handover failed: Redis' shutdown is an unplanned loss
                down.Add(n);
                if (n.Process is { } p && !p.HasExited)
                {
                    Signals.Send(p.Id, Signals.SIGTERM);
                    try { await p.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(15), ct); }
                    catch (TimeoutException) { set.Kill(n); }
                }
                var exit = await s.TerminateSidecarAsync(i, handoverTimeout + TimeSpan.FromSeconds(20));
                if (exit != 0) Violate("sidecars-stay-up", $"{n.Name}'s sidecar exited {exit} on SIGTERM during the rolling restart:\n{Text.Tail(s.SidecarLog(i), 6)}");
                s.Api.RecreatePod(SidecarSet.Namespace, n.Name, revision);
                st.Mark($"recreated({n.Name})");
                var init = await set.InitAsync(n);
                if (init.Code != 0) { Violate("restart-through-redis-init", $"{n.Name}: redis-init exited {init.Code}: {init.Stderr.Trim()}"); }
                s.StartSidecar(i);
                if (init.Code == 0)
                {
                    set.StartServer(n);
                    await set.WaitUntilAsync(() => set.PingAsync(n), TimeSpan.FromSeconds(10), $"{n.Name} answers PING");
                    down.Remove(n);
                }
            }
            finally { Stopping(i, false); }

            // The controller moves on once the pod is Ready.
            if (!await PollAsync(() => Task.FromResult(s.Api.GetConditionStatus(SidecarSet.Namespace, n.Name, "Ready") == "True" ? null : "not Ready"), TimeSpan.FromSeconds(60), ct))
                Violate("rolling-restart-ready", $"{n.Name} not Ready within 60 s of being recreated: {LabelProblem(master) ?? "labels as the table says"}\n{await ReplicationDetailAsync()}");
            else Count("rolling-restart-ready");
            st.Mark($"ready({n.Name})");
            await Task.Delay(Seconds(f.Seconds), ct);
        }
        // Highest ordinal first: mastership moves once, unless the master was the first pod restarted (no updated replica yet).
        var allowed = first.Ordinal == set.Redis.Count - 1 ? 2 : 1;
        if (moves > allowed) Violate("rolling-restart-moves-once", $"the rolling restart moved mastership {moves} times (first master {first.Name}; at most {allowed})");
        else Count("rolling-restart-moves-once");
        st.Notes.Add($"mastership moved {moves} time(s)");
    }

    // ---------------------------------------------------------------- restarts and losses

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
            if (await set.ReplicationAsync(r) is { Role: LocalRole.Replica } state) offsets[r] = state.Offset;
        // An earlier loss in this step whose successor is now lost too: that successor was what Sentinel promoted.
        foreach (var earlier in st.Losses.Where(l => l.Promoted is null && l.OldMaster != oldMaster)) earlier.Promoted = oldMaster;
        var loss = new Loss(oldMaster, writer!.LastAcked, offsets);
        st.Losses.Add(loss);
        st.Notes.Add(loss.ToString());
    }

    async Task CheckEmptyRestartAsync(StepState st, Node restarted, Node settledMaster)
    {
        var role = await set.RoleAsync(restarted);
        if (settledMaster == restarted || role != "slave")
            Violate("empty-restart-guard", $"{restarted.Name} restarted with an empty data dir is {role ?? "unreachable"}; Sentinels' master is {settledMaster.Name}");
        else Count("empty-restart-guard");
        var keys = await set.TryAsync(settledMaster, server => server.DatabaseSizeAsync());
        st.Notes.Add($"{restarted.Name} is a replica again; master {settledMaster.Name} holds {keys} keys");
    }
}
