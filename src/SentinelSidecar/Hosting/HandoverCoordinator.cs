using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;

namespace RedisSidecars.Sidecar.Hosting;

public enum HandoverOutcome { NotMaster, NoHealthyReplica, HandedOver, TimedOut, SentinelRefused, LocalUnreachable }

public sealed record HandoverResult(HandoverOutcome Outcome, string Detail, TimeSpan Took);

/// <summary>
/// Planned handover (SIGTERM or /handover): drop readiness and the master label, pause writes,
/// let a replica catch up, SENTINEL FAILOVER, wait for the new master (bounded), unpause, disconnect
/// clients. Not master: returns at once. Concurrent or repeated calls share one run.
/// </summary>
public sealed class HandoverCoordinator(
    SidecarSettings settings,
    ReconcileWorker worker,
    ILocalRedis local,
    ISentinelWatcher sentinels,
    SidecarMetrics metrics,
    ILogger logger,
    TimeProvider time)
{
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);
    readonly object gate = new();
    Task<HandoverResult>? running;

    public Task<HandoverResult> HandoverAsync(string trigger, CancellationToken ct)
    {
        lock (gate)
        {
            if (running is { IsCompleted: false }) return running;
            running = RunAsync(trigger, ct);
            return running;
        }
    }

    async Task<HandoverResult> RunAsync(string trigger, CancellationToken ct)
    {
        var start = time.GetTimestamp();
        TimeSpan Elapsed() => time.GetElapsedTime(start);
        HandoverResult Done(HandoverOutcome o, string detail)
        {
            Log.Handover(logger, $"{o}: {detail} ({Elapsed().TotalMilliseconds:0} ms)");
            return new HandoverResult(o, detail, Elapsed());
        }

        // One failed read of the local Redis is not "not master": ask again for a little while.
        var state = await local.ReadStateAsync(ct).ConfigureAwait(false);
        var readFor = TimeSpan.FromTicks(Math.Min(settings.HandoverTimeout.Ticks / 4, TimeSpan.FromSeconds(5).Ticks));
        while (state.Role == LocalRole.Unknown && Elapsed() < readFor)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct).ConfigureAwait(false);
            state = await local.ReadStateAsync(ct).ConfigureAwait(false);
        }
        var view = worker.Tracker.Current;
        if (state.Role == LocalRole.Unknown && view.Master is { } named && worker.IsMe(named))
            return Done(HandoverOutcome.LocalUnreachable, $"Sentinel names this pod master but the local Redis does not answer ({state.Error}); cannot pause writes for a handover");
        if (state.Role != LocalRole.Master || view.Master is not { } master || !worker.IsMe(master))
            return Done(HandoverOutcome.NotMaster, $"not master (local {state.Role}, sentinels name {view.Master?.ToString() ?? "nobody"}); nothing to hand over");

        var replication = await local.ReadReplicationAsync(ct).ConfigureAwait(false);
        if (replication.OnlineReplicas.Count == 0)
            return Done(HandoverOutcome.NoHealthyReplica, "no online replica to hand over to; staying master");

        Log.Handover(logger, $"starting ({trigger}): {replication.OnlineReplicas.Count} online replica(s)");
        worker.HandoverActive = true;
        var paused = false;
        var failedOver = false;
        try
        {
            // 1. Out of the Service first: readiness false, then the label.
            await worker.ApplyAsync(new DesiredState(RoleLabel.Replica, false, $"planned handover ({trigger})"), ct).ConfigureAwait(false);

            // 2. No more writes land here; they wait and, once this node is a replica, fail with -READONLY.
            var pauseFor = settings.HandoverTimeout - Elapsed();
            if (pauseFor < TimeSpan.FromSeconds(1)) pauseFor = TimeSpan.FromSeconds(1);
            await local.PauseWritesAsync(pauseFor, ct).ConfigureAwait(false);
            paused = true;

            // 3. Let a replica reach the master's offset.
            var caughtUp = false;
            while (Elapsed() < settings.HandoverTimeout)
            {
                var r = await local.ReadReplicationAsync(ct).ConfigureAwait(false);
                if (r.OnlineReplicas.Any(x => x.Offset >= r.MasterOffset)) { caughtUp = true; break; }
                await Task.Delay(Poll, time, ct).ConfigureAwait(false);
            }
            if (!caughtUp) return Done(HandoverOutcome.TimedOut, "no replica caught up within HANDOVER_TIMEOUT_MS");

            // 4. Sentinel promotes a replica (it picks the best one).
            var by = await sentinels.FailoverAsync(ct).ConfigureAwait(false);
            if (by is null) return Done(HandoverOutcome.SentinelRefused, "no Sentinel accepted SENTINEL FAILOVER");
            Log.Handover(logger, $"SENTINEL FAILOVER accepted by {by}");

            // 5. Wait for the new master (event or poll).
            while (Elapsed() < settings.HandoverTimeout)
            {
                var v = worker.Tracker.Current;
                if (v.Master is { } m && !worker.IsMe(m)) { failedOver = true; break; }
                worker.Wake();
                await Task.Delay(Poll * 5, time, ct).ConfigureAwait(false);
                var answers = await sentinels.PollAsync(ct).ConfigureAwait(false);
                worker.Tracker.OnPoll(answers);
            }
            if (!failedOver) return Done(HandoverOutcome.TimedOut, "Sentinel did not announce a new master within HANDOVER_TIMEOUT_MS");

            // 6. Become a replica now (Sentinel would, seconds later): the writes still paused here then fail
            //    with -READONLY instead of landing on a master nobody replicates.
            var newMaster = worker.Tracker.Current.Master!.Value;
            try { await local.ReplicateAsync(newMaster, ct).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Log.HandoverProblem(logger, $"REPLICAOF {newMaster} failed ({e.GetType().Name}); Sentinel will convert this node");
            }
            metrics.Handovers.Increment();
            return Done(HandoverOutcome.HandedOver, $"new master {worker.Tracker.Current.Master}");
        }
        finally
        {
            if (paused)
            {
                try
                {
                    await local.UnpauseAsync(CancellationToken.None).ConfigureAwait(false);
                    // Pooled clients reconnect through the Service to the new master instead of getting -READONLY.
                    if (failedOver) await local.KillNormalClientsAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    Log.HandoverProblem(logger, "unpause failed: " + e.GetType().Name);
                }
            }
            worker.HandoverActive = false;
            worker.Wake();
        }
    }
}
