using System.Diagnostics;
using System.Globalization;

namespace RedisSidecars.Testing.Chaos;

/// <summary>The invariants, checked after every step and at the checkpoints inside one.</summary>
public sealed partial class ChaosRunner
{
    /// <summary>
    /// Invariants 1, 2, 4 and 6 at one point of a step. Waits (bounded) for Sentinel to settle, then gives the sidecars
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
            var settled = await PollAsync(async () => { (m, why) = await set.SettledAsync(LeftOut, notMaster); return why; }, o.SentinelSettleTimeout, ct);
            if (!settled)
            {
                Violate("sentinel-settles", $"{phase}: Sentinel did not settle within {o.SentinelSettleTimeout.TotalSeconds:0}s: {why}");
                return null;
            }
            Count("sentinel-settles");
            st.SentinelSettle = st.Clock.Elapsed; // the last phase of a step wins
            st.Mark($"settled({m!.Name})");
            foreach (var loss in st.Losses.Where(l => l.Promoted is null && l.OldMaster != m)) loss.Promoted = m;

            // The bound runs from "Sentinel settled", or from the API's recovery if that is later.
            var bound = o.SettleBound + Max(TimeSpan.Zero, apiFailingUntil - DateTime.UtcNow);
            var labels = Stopwatch.StartNew();
            string? problem = null;
            var ok = await PollAsync(() =>
            {
                CheckSidecarsAlive(phase, count: false);
                return Task.FromResult(problem = LabelProblem(m!));
            }, bound, ct);
            var still = await set.SettledAsync(LeftOut, notMaster);
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
                Count("service-endpoint-is-sentinels-master");
                if (labels.Elapsed > st.LabelSettle) st.LabelSettle = labels.Elapsed;
                st.Mark("labels");
            }
            break;
        }

        // Tables converge (a restarted Sentinel needs a few hello periods to relearn its peers).
        string? tables = null;
        if (m is not null && LiveSentinels.Any())
        {
            if (await PollAsync(async () => tables = await TablesProblemAsync(m), o.SettleBound, ct)) Count("sentinel-tables-clean");
            else Violate("sentinel-tables-clean", $"{phase}: {tables}");
        }

        CheckNeverTwoMasters(phase);
        CheckNeverTwoEndpoints(phase);
        CheckLivez(phase);
        return m;
    }

    /// <summary>
    /// A sidecar is long-running: it must never exit on its own (only SIGTERM ends it, and this runner restarts it at once
    /// then). One that did is a violation; it is restarted as the kubelet restarts a native sidecar, so a long run goes on.
    /// </summary>
    void CheckSidecarsAlive(string phase, bool count = true)
    {
        for (var i = 0; i < set.Redis.Count; i++)
        {
            if (IsStopping(i) || s.Sidecar(i) is not { HasExited: true } p) continue;
            var code = p.ExitCode;
            var tail = Text.Tail(s.SidecarLog(i), 6);
            sidecarCrashes++;
            s.StartSidecar(i);
            Violate("sidecars-stay-up", $"{phase}: the redis-sidecar of {set.Redis[i].Name} exited on its own (exit code {code}); restarted it as the kubelet would. Its last log lines:\n{tail}");
        }
        if (count) Count("sidecars-stay-up");
    }

    /// <summary>/livez answered 200 throughout, on every running sidecar (<see cref="LivezMonitor"/>).</summary>
    void CheckLivez(string phase)
    {
        if (livez is null) return;
        var fresh = livez.TakeNew(ref livezSeen);
        if (fresh.Count > 0) Violate("livez-stays-200", $"{phase}: " + string.Join("; ", fresh));
        else Count("livez-stays-200");
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
        // What clients see: the master Service routes to the Sentinels' master, and only to it (the kubelet's Ready).
        if (problems.Count == 0 && s.ServiceEndpoint() != m)
            problems.Add($"the master Service's ready endpoints are [{string.Join(",", s.MasterEndpoints().ReadyAt(s.Api.Timeline.Elapsed))}], not {m.Name}");
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
            if (await SentinelTables.ProblemAsync(set, x, m, down) is { } p) problems.Add(p);
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

    /// <summary>The master Service never had two ready endpoints at once (kubelet-probed readiness, as kube-proxy routes).</summary>
    void CheckNeverTwoEndpoints(string phase)
    {
        var twos = s.MasterEndpoints().Changes.Where(c => c.Ready.Count > 1).ToList();
        if (twos.Count > twoEndpointInstantsReported)
        {
            var fresh = twos.Skip(twoEndpointInstantsReported).Select(c => $"{c.WallTime:HH:mm:ss.fff} [{string.Join(",", c.Ready)}]");
            twoEndpointInstantsReported = twos.Count;
            Violate("never-two-ready-endpoints", $"{phase}: the master Service had two ready endpoints: " + string.Join("; ", fresh));
        }
        else Count("never-two-ready-endpoints");
    }

    /// <summary>Once the set has settled, a client of the master Service gets writes acknowledged again.</summary>
    async Task CheckWritesResumeAsync(CancellationToken ct)
    {
        var from = writer!.AckedCount;
        if (await PollAsync(() => Task.FromResult(writer.AckedCount > from + 10 ? null : "writer idle"), o.WritesResumeBound, ct)) Count("writes-resume");
        else Violate("writes-resume", $"the writer (through the master Service, endpoint now {s.ServiceEndpoint()?.Name ?? "none"}) acknowledged {writer.AckedCount - from} writes within {o.WritesResumeBound.TotalSeconds:0}s of the settled state (errors={writer.Errors})\n{await ReplicationDetailAsync()}");
    }

    /// <summary>
    /// Every acknowledged write (SET answered, then <c>WAIT 1</c> answered ≥ 1) must be on the settled master, with one
    /// exception that Redis itself allows.
    /// <para>
    /// Why there is an exception and why it is this narrow: <c>WAIT 1</c> returns once one replica has acknowledged
    /// (REPLCONF ACK) a processed offset at or past the write, so an acknowledged write is on at least one replica.
    /// When the master dies (kill -9, SIGSTOP past down-after, the empty-dir restart, a failed handover's shutdown)
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
    /// The check: right after a master goes away this runner reads every replica's offset (frozen by then, through
    /// <see cref="RedisSet.ReplicationAsync"/>) and notes the last acknowledged write. If Sentinel then promoted the
    /// replica with the highest offset (or one tied for it), nothing may be lost. Only if it promoted a replica whose
    /// offset was lower than another's may writes be lost, and only writes acknowledged before that master went away;
    /// those are counted as "lost by Redis". For planned handovers and every fault that leaves the master alive, the
    /// check is exact: nothing may be lost.
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

        var excusable = new HashSet<long>();
        var why = new List<string>();
        foreach (var loss in st.Losses)
        {
            var promoted = loss.Promoted ?? m;
            var max = loss.ReplicaOffsets.Count > 0 ? loss.ReplicaOffsets.Values.Max() : 0;
            if (loss.ReplicaOffsets.TryGetValue(promoted, out var off) && off < max)
            {
                foreach (var n in fresh.Where(n => n <= loss.LastAckedBefore)) excusable.Add(n);
                why.Add($"Sentinel promoted {promoted.Name} at offset {off} although another replica was at {max} (stale INFO); {loss}");
            }
            else why.Add($"Sentinel promoted {promoted.Name} at offset {(loss.ReplicaOffsets.TryGetValue(promoted, out var o2) ? o2.ToString(CultureInfo.InvariantCulture) : "?")}, the highest ({max}): nothing may be lost; {loss}");
        }
        st.LostByRedis += excusable.Count;
        lostByRedis += excusable.Count;
        if (excusable.Count > 0) st.Notes.Add($"{excusable.Count} acked writes lost by Redis: {string.Join(" | ", why)}");
        if (st.Failovers > st.ExpectedFailovers)
            why.Add($"This step saw {st.Failovers} failover(s), more than it caused: a failover of a healthy master, where a replica not yet reconfigured acknowledges writes the old master takes until it is converted, loses them in Redis itself; see the Sentinel logs.");
        var bad = fresh.Where(n => !excusable.Contains(n)).ToList();
        if (bad.Count == 0) { Count("no-acked-write-lost"); return; }
        lostWrites += bad.Count;
        var acked = writer!.Acked;
        var at = acked.Where(a => bad.Contains(a.N)).Take(5).Select(a => $"#{a.N}@{a.At.TotalSeconds:0.000}s").ToList();
        Violate("no-acked-write-lost", $"{bad.Count} acknowledged writes missing on the master {m.Name} (of {acked.Count} acked; last acked #{acked[^1].N}@{acked[^1].At.TotalSeconds:0.000}s): "
            + $"#{bad.Min()}..#{bad.Max()}, first {string.Join(" ", at)}. {string.Join(" ", why)}");
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

    /// <summary>The highest config epoch any live Sentinel reports for the master: one more per completed failover.</summary>
    async Task<long> ConfigEpochAsync()
    {
        long epoch = 0;
        foreach (var x in LiveSentinels)
            if (await set.SentinelAnswerAsync(x) is { } a) epoch = Math.Max(epoch, a.ConfigEpoch);
        return epoch;
    }
}
