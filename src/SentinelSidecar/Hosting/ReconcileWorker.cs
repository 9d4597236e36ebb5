using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Hosting;

/// <summary>
/// The reconcile loop: every RECONCILE_INTERVAL_MS, and at once on a Sentinel signal or a watch change, it gathers the
/// facts (the Sentinels, the local Redis, the watch cache), decides with the pure rules (<see cref="RoleDecider"/>, the
/// readiness threshold, <see cref="ReplicaPriorityPlanner"/>) and applies them: /readyz at once, the pod's label and
/// condition through the <see cref="PodStateApplier"/> (never waiting for the API), the replica priority on the local
/// Redis. A tick never waits on the Kubernetes API and every Redis or Sentinel call is bounded, so a tick that does
/// not complete means the loop is stuck (/livez). The edges turn every Redis, Sentinel and API fault into a value:
/// an exception that still reaches the loop is a bug, ends it, and the process exits non-zero.
/// </summary>
public sealed class ReconcileWorker
{
    static readonly TimeSpan DemotionKillAfter = TimeSpan.FromSeconds(3);
    readonly SidecarSettings settings;
    readonly ISentinels sentinels;
    readonly ILocalRedis local;
    readonly IKubeFacts kube;
    readonly PodStateApplier applier;
    readonly SidecarMetrics metrics;
    readonly ILogger logger;
    readonly TimeProvider time;
    readonly SemaphoreSlim wake = new(0, 1);
    readonly TimeSpan steadyInterval;
    ReadinessState readiness = ReadinessState.Initial;
    volatile bool steady; // the last tick saw every Sentinel answer alike with nothing in progress, and this pod as it should be
    long lastTick;
    long demotedAt; // when this pod, labelled master, was decided not to be (0 = not demoting)
    bool clientsKilled;
    bool? fenced; // null until read once from the local Redis (a fence an earlier run left)

    public ReconcileWorker(SidecarSettings settings, ISentinels sentinels, ILocalRedis local, IKubeFacts kube, PodStateApplier applier,
        SidecarMetrics metrics, ILogger logger, TimeProvider time)
    {
        this.settings = settings;
        this.sentinels = sentinels;
        this.local = local;
        this.kube = kube;
        this.applier = applier;
        this.metrics = metrics;
        this.logger = logger;
        this.time = time;
        Tracker = new SentinelViewTracker(settings.Common.SentinelNodes.Count, settings.SentinelLossGrace, time);
        steadyInterval = SteadyInterval(settings);
        metrics.SentinelsConfigured = settings.Common.SentinelNodes.Count;
        lastTick = time.GetTimestamp();
        applier.OnDemoted = KillClientsAfterDemotionAsync;
    }

    /// <summary>The Sentinels' view; this loop (polls) and the Sentinel signals are its only writers.</summary>
    public SentinelViewTracker Tracker { get; }

    /// <summary>True while a planned handover owns this pod's role: it is kept not master and not ready.</summary>
    public Func<bool> HandoverActive { get; set; } = () => false;

    /// <summary>What the readiness rules say (/readyz also drops at once while a handover runs).</summary>
    public bool Ready => readiness.Ready;

    /// <summary>The last local state read (for the handover's first decision and the metrics).</summary>
    public LocalRedisState? LastLocal { get; private set; }

    /// <summary>Alive: the loop completed a tick within LIVENESS_TIMEOUT_MS. Outages of the API or the Sentinels do not stop ticks.</summary>
    public bool Alive => time.GetElapsedTime(Interlocked.Read(ref lastTick)) < settings.LivenessTimeout;

    public bool IsMe(NodeAddress node) => settings.Common.IsMe(node);

    /// <summary>
    /// The replica-priority each peer's sidecar sets (<see cref="ReplicaPriorityPlanner"/>) as the watch cache shows the
    /// pods' revisions: what Sentinel should have read before a handover asks it to choose. Empty when unknown.
    /// </summary>
    public IReadOnlyList<(NodeAddress Node, int Expected)> ExpectedPeerPriorities()
    {
        var facts = kube.Current;
        if (facts.UpdateRevision is not { } update) return [];
        var names = settings.PodNames.ToList(); // in ordinal order, as RedisNodes
        return [.. facts.Peers
            .Select(p => (Pod: p, Ordinal: names.IndexOf(p.Name)))
            .Where(p => !p.Pod.Terminating && p.Pod.RevisionHash is not null && p.Ordinal >= 0)
            .Select(p => (settings.Common.RedisNodes[p.Ordinal],
                p.Pod.RevisionHash == update ? ReplicaPriorityPlanner.Current : ReplicaPriorityPlanner.Outdated))];
    }

    /// <summary>A Sentinel signalled a failover: apply it if its epoch is newer, and reconcile now.</summary>
    public Task OnSignalAsync(FailoverSignal s)
    {
        var accepted = Tracker.OnSignal(s.NewMaster, s.Epoch, s.Kind);
        Log.FailoverSignal(logger, s.Kind, s.Sentinel.ToString(), s.NewMaster.ToString(), s.Epoch, accepted);
        if (accepted)
        {
            metrics.FailoversObserved.Increment();
            applier.NoteFailoverSignal(s.ReceivedTimestamp);
            Interlocked.Exchange(ref signalPending, 1);
            Interlocked.Exchange(ref signalled, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
        Wake();
        return Task.CompletedTask;
    }

    /// <summary>
    /// The leader of a failover has sent SLAVEOF NO ONE to a replica: if it replaces the master the view names, the view
    /// says so (a master being replaced steps down now: its writes from here on would be lost) and the loop decides at once.
    /// </summary>
    public void OnPromotionStarted(PromotionStarted p)
    {
        var accepted = Tracker.OnPromotionStarted(p.Sentinel, p.Master, p.Replica);
        Log.PromotionStarted(logger, p.Sentinel.ToString(), p.Replica.ToString(), p.Master.ToString(), accepted);
        if (!accepted) return;
        if (IsMe(p.Replica)) applier.NotePromotionBegan();
        Interlocked.Exchange(ref signalPending, 1);
        Wake();
    }

    /// <summary>Completes when the next newer-epoch failover signal has been applied to <see cref="Tracker"/> (a handover waiting for its promotion looks at once).</summary>
    public Task NextSignal => Volatile.Read(ref signalled).Task;

    TaskCompletionSource signalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int signalPending; // 1: a signal changed the view since the last tick began (a newer-epoch failover, a promotion beginning)

    /// <summary>Reconcile now (a Sentinel event, a Sentinel connection lost or restored, a handover).</summary>
    public void Wake()
    {
        try { wake.Release(); } catch (SemaphoreFullException) { }
    }

    /// <summary>
    /// The time to the next tick when nothing else wakes the loop: RECONCILE_INTERVAL_MS while anything is in motion, twice
    /// that while steady (every Sentinel answered alike, no failover in progress, the local Redis and readiness as they
    /// should be), at most half of SENTINEL_LOSS_GRACE_MS so that a majority lost is still noticed within the grace.
    /// Failovers arrive as events and wake the loop at once; the tick is the safety net, and at rest it is most of the
    /// sidecar's CPU.
    /// </summary>
    public TimeSpan NextInterval => steady ? steadyInterval : settings.ReconcileInterval;

    internal static TimeSpan SteadyInterval(SidecarSettings s) =>
        TimeSpan.FromTicks(Math.Max(s.ReconcileInterval.Ticks, Math.Min(2 * s.ReconcileInterval.Ticks, s.SentinelLossGrace.Ticks / 2)));

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await RunOnceAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            var version = kube.Current.Version;
            using var next = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                await Task.WhenAny(wake.WaitAsync(next.Token), Task.Delay(NextInterval, time, next.Token), kube.WaitForChangeAsync(version, next.Token)).ConfigureAwait(false);
            }
            finally { await next.CancelAsync().ConfigureAwait(false); }
        }
    }

    /// <summary>
    /// One reconcile: gather, decide, apply. The Sentinels and the local Redis are asked at once. A tick woken by a
    /// signal already in the view (a newer-epoch failover, a promotion beginning) decides as soon as the local Redis
    /// answered, then again with the poll: the signal alone settles it, and the slowest Sentinel (the leader is busy
    /// failing over) is not on the path to the label.
    /// </summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        var signalled = Interlocked.Exchange(ref signalPending, 0) == 1;
        var localRead = local.ReadStateAsync(ct);
        var askedAt = time.GetTimestamp();
        var poll = sentinels.PollAsync(ct);
        if (signalled && !poll.IsCompleted) await DecideAsync(await localRead.ConfigureAwait(false), allAgree: false, ct).ConfigureAwait(false);
        var answers = await poll.ConfigureAwait(false);
        var before = Tracker.Current.Master;
        if (Tracker.OnPoll(answers, askedAt) && before is not null)
        {
            metrics.FailoversObserved.Increment();
            applier.NoteFailoverSignal(time.GetTimestamp());
        }
        metrics.SentinelsReachable = answers.Count(a => a.Error is null);
        var allAgree = answers.Count == settings.Common.SentinelNodes.Count
            && answers.All(a => a.Answered && !a.FailoverInProgress && a.Master!.Value.Equals(answers[0].Master));
        await DecideAsync(await localRead.ConfigureAwait(false), allAgree, ct).ConfigureAwait(false);
        Interlocked.Exchange(ref lastTick, time.GetTimestamp());
    }

    /// <summary>Decides from the view as it is and <paramref name="state"/>, and applies: readiness, the intent, the fence, the priority.</summary>
    async Task DecideAsync(LocalRedisState state, bool allAgree, CancellationToken ct)
    {
        LastLocal = state;
        var view = Tracker.Current;
        metrics.SentinelMajorityLost = view.Lost;
        var facts = kube.Current;

        var fence = await ApplyFenceAsync(view, state, ct).ConfigureAwait(false);
        var desired = HandoverActive()
            ? new DesiredState(RoleLabel.Replica, false, "planned handover in progress", Urgent: true)
            : fence.Fenced ? new DesiredState(RoleLabel.Replica, false, "fenced: " + fence.Reason, Urgent: true)
            : RoleDecider.Decide(view, state, IsMe);
        var labelledMaster = facts.Own is { } own && own.Labels.TryGetValue(settings.LabelName, out var l) && l == settings.MasterLabelValue;
        var now = time.GetTimestamp();
        var next = readiness.Next(desired, labelledMaster, now, settings.ReplicaNotReadyAfter, time);
        if (next.Ready != readiness.Ready) Log.Readiness(logger, next.Ready, desired?.Reason ?? "waiting for a Sentinel view");
        readiness = next;
        metrics.Ready = readiness.Ready;
        steady = allAgree && !view.Lost && !HandoverActive() && !fence.Fenced && desired is not null
            && view.Master is { } m && (IsMe(m) ? state.Role == LocalRole.Master : state.Role == LocalRole.Replica && state.LinkUp) && readiness.Ready;
        applier.Publish(new PodIntent(desired?.Label ?? RoleLabel.Keep, readiness.Ready, desired?.Reason ?? "waiting for a Sentinel view"));

        await KillClientsIfDemotionStalledAsync(labelledMaster, desired, now, ct).ConfigureAwait(false);
        await ApplyReplicaPriorityAsync(state, facts, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A labelled master that must step down disconnects its clients once its label is gone (the applier calls
    /// <see cref="KillClientsAfterDemotionAsync"/>); if the API does not let the label go, it does so after a few seconds
    /// anyway: readiness is down by then, so reconnecting clients are routed elsewhere.
    /// </summary>
    async Task KillClientsIfDemotionStalledAsync(bool labelledMaster, DesiredState? desired, long now, CancellationToken ct)
    {
        var demoting = labelledMaster && desired is { Label: RoleLabel.Replica } && !HandoverActive();
        if (!demoting) { demotedAt = 0; if (!labelledMaster) clientsKilled = false; return; }
        if (demotedAt == 0) { demotedAt = now; clientsKilled = false; }
        if (!clientsKilled && time.GetElapsedTime(demotedAt, now) >= DemotionKillAfter)
            await KillClientsAfterDemotionAsync(ct).ConfigureAwait(false);
    }

    async Task KillClientsAfterDemotionAsync(CancellationToken ct)
    {
        // A planned handover disconnects clients itself, after the failover and the unpause.
        if (HandoverActive() || clientsKilled) return;
        clientsKilled = true;
        try { await local.KillNormalClientsAsync(ct).ConfigureAwait(false); }
        catch (LocalRedisException e)
        {
            Log.LocalProblem(logger, settings.LocalRedis.ToString(), "after demotion: " + e.Message);
        }
    }

    /// <summary>
    /// The fence is <c>min-replicas-to-write</c> = every replica with <c>min-replicas-max-lag</c> = 1 s: Redis itself then
    /// refuses each write (-NOREPLICAS) unless every replica acknowledged the stream within the last second, so clients get
    /// an error at once instead of a hang, the fence holds even if this sidecar dies, and it lifts by itself in Redis' eyes
    /// the moment every replica is back in sync. Lifting restores the configured MIN_REPLICAS_TO_WRITE / MIN_REPLICAS_MAX_LAG.
    /// </summary>
    async Task<FenceDecision> ApplyFenceAsync(SentinelView view, LocalRedisState state, CancellationToken ct)
    {
        var expected = settings.Common.RedisNodes.Count - 1;
        if (fenced is null && state.Role != LocalRole.Unknown)
        {
            // A fence an earlier run left stays until the rules lift it.
            try { fenced = expected > 0 && expected != (settings.Common.MinReplicasToWrite ?? 0) && await local.ReadMinReplicasToWriteAsync(ct).ConfigureAwait(false) == expected; }
            catch (LocalRedisException e) { Log.LocalProblem(logger, settings.LocalRedis.ToString(), e.Message); return new FenceDecision(false, "unknown"); }
            metrics.Fenced = fenced.Value;
        }
        var decision = FencePlanner.Decide(settings.FenceEnabled, view, state, expected, fenced == true, IsMe);
        if (decision.Fenced == fenced || state.Role == LocalRole.Unknown) return decision;
        try
        {
            if (decision.Fenced) await local.SetWriteQuorumAsync(expected, FencePlanner.InSyncLagSeconds, ct).ConfigureAwait(false);
            else await local.SetWriteQuorumAsync(settings.Common.MinReplicasToWrite ?? 0, settings.Common.MinReplicasMaxLag ?? 10, ct).ConfigureAwait(false);
        }
        catch (LocalRedisException e)
        {
            Log.LocalProblem(logger, settings.LocalRedis.ToString(), (decision.Fenced ? "fencing: " : "lifting the fence: ") + e.Message);
            return decision with { Fenced = decision.Fenced || fenced == true }; // try again next tick; unready meanwhile if it should be fenced
        }
        fenced = decision.Fenced;
        metrics.Fenced = decision.Fenced;
        if (decision.Fenced) metrics.Fences.Increment();
        Log.Fence(logger, decision.Fenced, decision.Reason);
        _ = applier.RecordEventAsync(decision.Fenced ? "Warning" : "Normal", decision.Fenced ? "Fenced" : "Unfenced", decision.Reason);
        return decision;
    }

    async Task ApplyReplicaPriorityAsync(LocalRedisState state, KubeFacts facts, CancellationToken ct)
    {
        if (state.Role != LocalRole.Replica) return;
        if (ReplicaPriorityPlanner.Plan(facts.Own?.RevisionHash, facts.UpdateRevision, state.ReplicaPriority) is not { } priority) return;
        try
        {
            await local.SetReplicaPriorityAsync(priority, ct).ConfigureAwait(false);
            Log.ReplicaPriority(logger, priority, facts.Own?.RevisionHash ?? "?", facts.UpdateRevision ?? "?");
        }
        catch (LocalRedisException e)
        {
            Log.LocalProblem(logger, settings.LocalRedis.ToString(), e.Message);
        }
    }
}
