using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Hosting;

/// <param name="Promotion">SENTINEL FAILOVER accepted → promotion seen, when there was one.</param>
public sealed record HandoverResult(HandoverOutcome Outcome, string Detail, TimeSpan Took, TimeSpan? Promotion = null);

/// <summary>
/// Planned handover (SIGTERM, or the preStop call on HANDOVER_PORT). It never depends on the Kubernetes API: /readyz
/// drops at once and the label and condition writes run beside it in the <see cref="PodStateApplier"/>. Steps and their
/// reasons are in DESIGN.md; the decisions are <see cref="HandoverPlanner"/>'s. Concurrent or repeated calls share one
/// run; a run that ends with a failover still pending keeps writes paused in the background until Sentinel completes
/// or verifiably aborts it.
/// </summary>
public sealed class HandoverCoordinator(
    SidecarSettings settings,
    ReconcileWorker worker,
    ILocalRedis local,
    ISentinels sentinels,
    IPodClient events,
    SidecarMetrics metrics,
    ILogger logger,
    TimeProvider time)
{
    /// <summary>How long one CLIENT PAUSE lasts: short, so writes resume soon if this process dies mid-handover.</summary>
    static readonly TimeSpan PauseFor = TimeSpan.FromSeconds(3);
    static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(1);
    static readonly TimeSpan PromotionPoll = TimeSpan.FromMilliseconds(20);
    static readonly TimeSpan AllSentinelsPoll = TimeSpan.FromMilliseconds(250);
    static readonly TimeSpan ReplicaPoll = TimeSpan.FromMilliseconds(100);
    /// <summary>Sentinel reads each replica's INFO every 10 s.</summary>
    static readonly TimeSpan PriorityWait = TimeSpan.FromSeconds(11);
    readonly object gate = new();
    Task<HandoverResult>? running;
    volatile bool active;
    volatile bool paused;

    /// <summary>A handover owns this pod's role: not master, not ready.</summary>
    public bool Active => active;

    /// <summary>Writes are paused by a handover now.</summary>
    public bool WritesPaused => paused;

    /// <summary>The background run that keeps writes paused until a pending failover resolves (null when none).</summary>
    public Task? Pending { get; private set; }

    public Task<HandoverResult> HandoverAsync(string trigger, CancellationToken ct)
    {
        lock (gate)
        {
            if (running is { IsCompleted: false }) return running;
            // A failover accepted by an earlier run may still happen: a new run could ask another Sentinel and, refused,
            // unpause under it. The earlier run resumes writes when that failover completes or verifiably aborts.
            if (Pending is { IsCompleted: false })
                return Task.FromResult(new HandoverResult(HandoverOutcome.FailoverPending,
                    "a failover accepted by an earlier handover may still happen: writes stay paused until Sentinel completes or aborts it", TimeSpan.Zero));
            running = RunAsync(trigger, ct);
            return running;
        }
    }

    async Task<HandoverResult> RunAsync(string trigger, CancellationToken ct)
    {
        var start = time.GetTimestamp();
        TimeSpan Elapsed() => time.GetElapsedTime(start);
        bool InBound() => Elapsed() < settings.HandoverTimeout;

        // 1. Anything to hand over? One failed read of the local Redis is not "not master": ask again for a little while.
        var state = await local.ReadStateAsync(ct).ConfigureAwait(false);
        var readFor = TimeSpan.FromTicks(Math.Min(settings.HandoverTimeout.Ticks / 4, TimeSpan.FromSeconds(5).Ticks));
        while (state.Role == LocalRole.Unknown && Elapsed() < readFor)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct).ConfigureAwait(false);
            state = await local.ReadStateAsync(ct).ConfigureAwait(false);
        }
        var first = HandoverPlanner.Start(state, worker.Tracker.Current, worker.IsMe);
        // 1b. No online replica, but one on its way (right after a failover the others resync for a moment): wait for it.
        if (first is HandoverStep.Finish { Outcome: HandoverOutcome.NoHealthyReplica })
        {
            state = await WaitForAReplicaAsync(state, start, ct).ConfigureAwait(false);
            first = HandoverPlanner.Start(state, worker.Tracker.Current, worker.IsMe);
        }
        if (first is HandoverStep.Finish nothing)
            return HandoverOutcomes.IsFailure(nothing.Outcome) ? Fail(nothing.Outcome, nothing.Detail, start) : Done(nothing.Outcome, nothing.Detail, start);
        Log.Handover(logger, $"starting ({trigger}): {state.OnlineReplicas.Count} online replica(s)");

        // Out of the Service at once through /readyz; the label and condition follow through the applier, best effort.
        active = true;
        worker.Wake();
        var keepActive = false;
        var replicas = local.ConnectReplicasAsync();
        try
        {
            // 2-5, again while a Sentinel refuses within the bound (nothing accepted, writes resumed meanwhile): a refusal
            //    right after another failover (-NOGOODSLAVE while the replicas resync, -INPROG) is usually over in a moment.
            NodeAddress? chosen = null;
            PauseKeeper? pause = null;
            string? refused = null;
            long epochBefore = 0;
            var none = CancellationToken.None;
            while (pause is null)
            {
                // 2. A Sentinel that can act now (not in TILT, naming this pod, no failover in progress). Writes are not paused yet.
                chosen = null;
                var why = "";
                while (chosen is null)
                {
                    var probes = await sentinels.ProbeAllAsync(ct).ConfigureAwait(false);
                    epochBefore = Math.Max(worker.Tracker.Current.Epoch, probes.Where(p => p.Reachable).Select(p => p.Epoch).DefaultIfEmpty(0).Max());
                    switch (HandoverPlanner.ChooseSentinel(probes, worker.IsMe))
                    {
                        case HandoverStep.Ask ask: chosen = ask.Sentinel; break;
                        case HandoverStep.Wait wait:
                            if (wait.Why != why) { Log.Handover(logger, wait.Why + "; waiting"); why = wait.Why; }
                            if (!InBound())
                                return refused is not null
                                    ? Fail(HandoverOutcome.SentinelRefused, refused + "; writes resumed here; staying master", start)
                                    : Fail(HandoverOutcome.NoSentinelReady, wait.Why + "; writes were never paused; staying master", start);
                            await Task.Delay(AllSentinelsPoll, time, ct).ConfigureAwait(false);
                            break;
                    }
                }

                // 2b. Sentinel chooses from priorities it read up to 10 s ago: during a rolling restart, give it the time to
                //     see the ones just changed, so that it promotes an up-to-date replica (writes are not paused yet).
                if (refused is null) await WaitForSentinelToSeePrioritiesAsync(chosen.Value, start, ct).ConfigureAwait(false);

                // 3. No more writes land here; they wait and, once this node is a replica, fail with -READONLY.
                var keeper = new PauseKeeper(local, logger, time, PauseFor, RenewEvery, settings.LocalRedis.ToString());
                try { await keeper.StartAsync(ct).ConfigureAwait(false); }
                catch (LocalRedisException e) { return Fail(HandoverOutcome.LocalUnreachable, $"cannot pause writes ({e.Message}); staying master", start); }
                paused = true;
                // From here on nothing cancels the run: it is bounded by HANDOVER_TIMEOUT_MS, and a cancelled run would leave
                // writes paused with nobody to decide when to resume them.
                metrics.HandoverWritesPaused = true;

                // 4. Let every online replica reach the master's offset, read from the replicas themselves once their
                //    connections are open (opened at step 1), from the master's INFO meanwhile.
                var caughtUp = false;
                while (InBound())
                {
                    var masterState = await local.ReadStateAsync(none).ConfigureAwait(false);
                    IReadOnlyList<long> offsets = replicas.IsCompletedSuccessfully ? await replicas.Result.ReadOffsetsAsync(none).ConfigureAwait(false) : [];
                    if (HandoverPlanner.CaughtUp(masterState, offsets)) { caughtUp = true; break; }
                    await Task.Delay(TimeSpan.FromMilliseconds(5), time, none).ConfigureAwait(false);
                }
                if (!caughtUp)
                {
                    await ResumeAsync(keeper, null).ConfigureAwait(false);
                    return refused is not null
                        ? Fail(HandoverOutcome.SentinelRefused, refused + "; writes resumed here; staying master", start)
                        : Fail(HandoverOutcome.CatchUpTimedOut, "not every online replica reached the master's offset within HANDOVER_TIMEOUT_MS; no failover was asked; writes resumed here", start);
                }

                // 5. Ask the chosen Sentinel. An unanswered request may have been accepted: it counts as accepted.
                var (answer, detail) = await sentinels.FailoverAsync(chosen.Value, none).ConfigureAwait(false);
                if (answer == FailoverAnswer.Refused)
                {
                    await ResumeAsync(keeper, null).ConfigureAwait(false);
                    refused = $"{chosen} refused SENTINEL FAILOVER ({detail})";
                    Log.Handover(logger, refused + "; writes resumed; asking again within the bound");
                    if (!InBound()) return Fail(HandoverOutcome.SentinelRefused, refused + "; writes resumed here; staying master", start);
                    await Task.Delay(AllSentinelsPoll, time, ct).ConfigureAwait(false);
                    continue;
                }
                pause = keeper;
                Log.Handover(logger, answer == FailoverAnswer.Accepted
                    ? $"SENTINEL FAILOVER accepted by {chosen}"
                    : $"SENTINEL FAILOVER sent to {chosen}, no answer ({detail}): treated as accepted");
            }
            var asked = time.GetTimestamp();

            // 6. Wait for the promotion, from the Sentinel that accepted (or a newer-epoch signal); never unpause into a
            //    failover that may still happen.
            var outcome = await AwaitPromotionAsync(chosen!.Value, epochBefore, pause, asked, bounded: true, start, none).ConfigureAwait(false);
            if (outcome is not null) return outcome;

            // The bound ran out with the failover still possible: keep writes paused until it resolves.
            keepActive = true;
            var pendingDetail = $"the failover accepted by {chosen} has not happened within HANDOVER_TIMEOUT_MS and may still happen: writes stay paused until Sentinel completes or aborts it";
            Pending = Task.Run(() => AwaitPromotionAsync(chosen.Value, epochBefore, pause, asked, bounded: false, start, CancellationToken.None));
            return Fail(HandoverOutcome.FailoverPending, pendingDetail, start);
        }
        finally
        {
            if (!keepActive) active = false;
            worker.Wake();
            _ = replicas.ContinueWith(t => t.Result.DisposeAsync().AsTask(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// With no online replica: while one is on its way (<see cref="HandoverPlanner.ReplicaComing"/>: attached and syncing,
    /// or held up by a Sentinel), reads the local Redis again every 100 ms, until one is online or half the handover bound
    /// has passed since <paramref name="start"/>. Writes are not paused. Returns the last state read.
    /// </summary>
    async Task<LocalRedisState> WaitForAReplicaAsync(LocalRedisState state, long start, CancellationToken ct)
    {
        var bound = settings.HandoverTimeout / 2;
        string? waiting = null;
        while (state is { Role: LocalRole.Master, OnlineReplicas.Count: 0 } && time.GetElapsedTime(start) < bound)
        {
            var coming = HandoverPlanner.ReplicaComing(state, null, worker.IsMe);
            foreach (var sentinel in settings.Common.SentinelNodes)
            {
                if (coming is not null) break;
                if (await sentinels.ReplicasAsync(sentinel, ct).ConfigureAwait(false) is { } rows) coming = HandoverPlanner.ReplicaComing(state, rows, worker.IsMe);
            }
            if (coming is null) break;
            if (waiting is null) Log.Handover(logger, $"no online replica yet, but {coming}: waiting for it (at most {bound.TotalSeconds:0.#} s)");
            waiting = coming;
            await Task.Delay(ReplicaPoll, time, ct).ConfigureAwait(false);
            state = await local.ReadStateAsync(ct).ConfigureAwait(false);
        }
        if (waiting is not null)
            Log.Handover(logger, state.OnlineReplicas.Count > 0
                ? $"replica online after {time.GetElapsedTime(start).TotalMilliseconds:0} ms"
                : $"still no online replica after {time.GetElapsedTime(start).TotalMilliseconds:0} ms ({waiting})");
        return state;
    }

    /// <summary>
    /// Waits (every 250 ms, at most <see cref="PriorityWait"/> and half of what is left of the handover bound) until <paramref name="sentinel"/>
    /// has read every peer's replica-priority as it is now; then, or when it cannot tell, goes on.
    /// </summary>
    async Task WaitForSentinelToSeePrioritiesAsync(NodeAddress sentinel, long start, CancellationToken ct)
    {
        var since = time.GetTimestamp();
        // Half of what is left: the pause, the catch-up and the promotion need the rest (earlier waits — for a replica,
        // for a Sentinel out of TILT — may have used some of the bound already).
        var bound = TimeSpan.FromTicks(Math.Min(PriorityWait.Ticks, Math.Max(0, (settings.HandoverTimeout - time.GetElapsedTime(start)).Ticks / 2)));
        string? logged = null;
        while (time.GetElapsedTime(since) < bound)
        {
            var expected = worker.ExpectedPeerPriorities();
            if (expected.Count == 0 || await sentinels.ReplicasAsync(sentinel, ct).ConfigureAwait(false) is not { } seen) return;
            if (HandoverPlanner.StalePriority(seen, expected) is not { } stale) return;
            if (logged is null) { Log.Handover(logger, stale + "; waiting for Sentinel to read it before pausing writes"); logged = stale; }
            await Task.Delay(AllSentinelsPoll, time, ct).ConfigureAwait(false);
        }
        Log.Handover(logger, $"{logged}; asking anyway after {bound.TotalSeconds:0.#} s");
    }

    /// <summary>
    /// Polls the accepting Sentinel every few tens of milliseconds (all of them four times a second, to verify an abort)
    /// until the promotion, a verified abort, or — when <paramref name="bounded"/> — the handover bound. Null: still pending.
    /// </summary>
    async Task<HandoverResult?> AwaitPromotionAsync(NodeAddress chosen, long epochBefore, PauseKeeper pause, long asked, bool bounded, long start, CancellationToken ct)
    {
        IReadOnlyList<SentinelProbe> all = [];
        var lastAll = 0L;
        while (!bounded || time.GetElapsedTime(start) < settings.HandoverTimeout)
        {
            if (lastAll == 0 || time.GetElapsedTime(lastAll) >= AllSentinelsPoll)
            {
                all = (await sentinels.PollAsync(ct).ConfigureAwait(false)).Select(a => RedisReplies.Probe(a, null)).ToArray();
                lastAll = time.GetTimestamp();
            }
            var one = await sentinels.ProbeAsync(chosen, ct).ConfigureAwait(false);
            var probes = all.Where(p => !p.Sentinel.Equals(chosen)).Append(one).ToArray();
            switch (HandoverPlanner.AfterAccept(chosen, probes, worker.Tracker.Current, epochBefore, worker.IsMe))
            {
                case HandoverStep.Promoted p:
                    var promotion = time.GetElapsedTime(asked);
                    // 7. Become a replica now (Sentinel would, seconds later): writes still paused here then fail with -READONLY
                    //    instead of landing on a master nobody replicates. Then unpause and disconnect clients.
                    try { await local.ReplicateAsync(p.NewMaster, CancellationToken.None).ConfigureAwait(false); }
                    catch (LocalRedisException e) { Log.HandoverProblem(logger, $"REPLICAOF {p.NewMaster} failed ({e.Message}); Sentinel will convert this node"); }
                    await ResumeAsync(pause, p.NewMaster).ConfigureAwait(false);
                    active = false;
                    worker.Wake();
                    return Done(HandoverOutcome.HandedOver, $"new master {p.NewMaster} ({p.Seen}; promoted {promotion.TotalMilliseconds:0} ms after SENTINEL FAILOVER)", start, promotion);
                case HandoverStep.Finish f:
                    await ResumeAsync(pause, null).ConfigureAwait(false);
                    active = false;
                    worker.Wake();
                    return Fail(f.Outcome, f.Detail, start);
            }
            // The next probe in 20 ms, or at once when a newer-epoch signal (+promoted-slave) arrives (a delay left
            // behind by a signal just runs out; it is 20 ms).
            await Task.WhenAny(Task.Delay(PromotionPoll, time, ct), worker.NextSignal).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
        return null;
    }

    /// <summary>Unpauses (after the failover: also disconnects clients, so pooled connections follow the Service).</summary>
    async Task ResumeAsync(PauseKeeper pause, NodeAddress? newMaster)
    {
        try
        {
            await pause.StopAsync().ConfigureAwait(false);
            if (newMaster is not null) await local.KillNormalClientsAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (LocalRedisException e)
        {
            Log.HandoverProblem(logger, "resuming writes: " + e.Message);
        }
        finally
        {
            paused = false;
            metrics.HandoverWritesPaused = false;
        }
    }

    HandoverResult Done(HandoverOutcome o, string detail, long start, TimeSpan? promotion = null)
    {
        var took = time.GetElapsedTime(start);
        Log.Handover(logger, $"{o}: {detail} ({took.TotalMilliseconds:0} ms)");
        metrics.Handovers(o).Increment();
        if (o == HandoverOutcome.HandedOver)
            _ = events.RecordEventAsync("Normal", "HandedOver", $"{detail}; took {took.TotalMilliseconds:0} ms", CancellationToken.None);
        return new HandoverResult(o, detail, took, promotion);
    }

    HandoverResult Fail(HandoverOutcome o, string detail, long start)
    {
        var took = time.GetElapsedTime(start);
        Log.HandoverProblem(logger, $"{o}: {detail} ({took.TotalMilliseconds:0} ms)");
        metrics.Handovers(o).Increment();
        _ = events.RecordEventAsync("Warning", o == HandoverOutcome.FailoverPending ? "HandoverPending" : "HandoverFailed", $"{o}: {detail}", CancellationToken.None);
        return new HandoverResult(o, detail, took);
    }
}

/// <summary>
/// Keeps <c>CLIENT PAUSE WRITE</c> in force: a short pause renewed every second, so that it lapses within seconds if
/// this process dies, and lasts as long as needed while it lives.
/// </summary>
public sealed class PauseKeeper(ILocalRedis local, ILogger logger, TimeProvider time, TimeSpan pauseFor, TimeSpan renewEvery, string node)
{
    readonly CancellationTokenSource stop = new();
    Task? renewing;

    public async Task StartAsync(CancellationToken ct)
    {
        await local.PauseWritesAsync(pauseFor, ct).ConfigureAwait(false);
        renewing = RenewAsync(stop.Token);
    }

    async Task RenewAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(renewEvery, time, ct).ConfigureAwait(false);
                await local.PauseWritesAsync(pauseFor, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (LocalRedisException e) { Log.LocalProblem(logger, node, "renewing CLIENT PAUSE: " + e.Message); }
        }
    }

    /// <summary>Stops renewing and unpauses.</summary>
    public async Task StopAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        if (renewing is not null) await renewing.ConfigureAwait(false);
        await local.UnpauseAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
