using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;

namespace RedisSidecars.Sidecar.Hosting;

/// <summary>
/// Keeps this pod's role label and readiness in line with DESIGN.md's table. <see cref="RunOnceAsync"/>
/// is one reconcile; the loop runs it every RECONCILE_INTERVAL_MS and at once on a Sentinel event.
/// </summary>
public sealed class ReconcileWorker
{
    readonly SidecarSettings settings;
    readonly ISentinelWatcher sentinels;
    readonly ILocalRedis local;
    readonly IPodWriter pods;
    readonly SentinelViewTracker tracker;
    readonly SidecarMetrics metrics;
    readonly ILogger logger;
    readonly TimeProvider time;
    readonly SemaphoreSlim wake = new(0, 1);
    readonly SemaphoreSlim reconcileGate = new(1, 1);
    bool? declaresGate;
    long pendingEventTimestamp; // 0 = no failover event waiting for its label patch
    long lastEventWake; // when a Sentinel event last woke the loop (0 = not since the last tick)
    long lastTick;

    public ReconcileWorker(SidecarSettings settings, ISentinelWatcher sentinels, ILocalRedis local, IPodWriter pods,
        SidecarMetrics metrics, ILogger logger, TimeProvider time)
    {
        this.settings = settings;
        this.sentinels = sentinels;
        this.local = local;
        this.pods = pods;
        this.metrics = metrics;
        this.logger = logger;
        this.time = time;
        tracker = new SentinelViewTracker(settings.Common.SentinelNodes.Count, settings.SentinelLossGrace, time);
        metrics.SentinelsConfigured = settings.Common.SentinelNodes.Count;
        lastTick = time.GetTimestamp();
    }

    public SentinelViewTracker Tracker => tracker;

    /// <summary>What /readyz reports. Starts false.</summary>
    public bool Ready { get; private set; }

    /// <summary>The role label value last seen or written on this pod.</summary>
    public string? AppliedLabel { get; private set; }

    /// <summary>True while a planned handover owns the pod's role (the worker keeps it not master, not ready).</summary>
    public bool HandoverActive { get; set; }

    /// <summary>
    /// Alive: the loop has completed a tick recently. Generous on purpose: a tick may spend a while in
    /// retries during an API outage, and restarting the sidecar would not help then.
    /// </summary>
    public bool Alive => time.GetElapsedTime(Interlocked.Read(ref lastTick)) < settings.ReconcileInterval * 10 + TimeSpan.FromMinutes(2);

    public bool IsMe(Core.Addressing.NodeAddress node) => settings.Common.IsMe(node);

    /// <summary>A Sentinel announced a failover: apply it if its epoch is newer, and reconcile now.</summary>
    public Task OnSwitchAsync(SwitchEvent e)
    {
        var accepted = tracker.OnSwitch(e.NewMaster, e.Epoch);
        Log.SwitchMaster(logger, e.Sentinel.ToString(), e.NewMaster.ToString(), e.Epoch, accepted);
        if (accepted)
        {
            metrics.FailoversObserved.Increment();
            Interlocked.CompareExchange(ref pendingEventTimestamp, e.ReceivedTimestamp, 0);
        }
        Wake();
        return Task.CompletedTask;
    }

    /// <summary>Any other Sentinel event (+odown, +failover-end, …): reconcile now, remembering when.</summary>
    public void OnSentinelEvent()
    {
        Interlocked.CompareExchange(ref lastEventWake, time.GetTimestamp(), 0);
        Wake();
    }

    public void Wake()
    {
        try { wake.Release(); } catch (SemaphoreFullException) { }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await RunOnceAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // One failed tick is logged and the next one tries again; a loop that keeps failing stops
                // completing ticks, /livez turns 503 and the kubelet restarts the container.
                Log.ReconcileFailed(logger, e is PodWriteException ? e.Message : $"{e.GetType().Name}: {e.Message}");
            }
            try { await wake.WaitAsync(settings.ReconcileInterval, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
        }
    }

    /// <summary>One reconcile: poll Sentinels and the local Redis, decide, apply what differs.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        var wokenAt = Interlocked.Exchange(ref lastEventWake, 0);
        var answers = await sentinels.PollAsync(ct).ConfigureAwait(false);
        var before = tracker.Current.Master;
        if (tracker.OnPoll(answers) && before is not null)
        {
            // Usually the poll that an earlier event of the same failover woke sees the new master before
            // +switch-master is handled: time the label from that event (or from now, for a plain poll).
            metrics.FailoversObserved.Increment();
            Interlocked.CompareExchange(ref pendingEventTimestamp, wokenAt != 0 ? wokenAt : time.GetTimestamp(), 0);
        }
        metrics.SentinelsReachable = answers.Count(a => a.Error is null);
        var state = await local.ReadStateAsync(ct).ConfigureAwait(false);
        var view = tracker.Current;
        var desired = RoleDecider.Decide(view, state, IsMe);
        if (HandoverActive) desired = new DesiredState(RoleLabel.Replica, false, "planned handover in progress");
        await ApplyAsync(desired, ct).ConfigureAwait(false);
        Interlocked.Exchange(ref lastTick, time.GetTimestamp());
    }

    /// <summary>Applies a desired state: demotion is readiness first, then the label, then CLIENT KILL; promotion waits for peers.</summary>
    public async Task ApplyAsync(DesiredState? desired, CancellationToken ct)
    {
        // Going unready needs no API call: /readyz drops at once, even while the API is unreachable.
        if (desired is null || !desired.Ready) { Ready = false; metrics.Ready = false; }
        await reconcileGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var pod = await pods.ReadOwnPodAsync(ct).ConfigureAwait(false);
            if (declaresGate is null)
            {
                declaresGate = pod.DeclaresReadinessGate;
                if (declaresGate == false) Log.NoReadinessGate(logger, settings.ReadinessConditionType);
            }
            var current = pod.Labels.TryGetValue(settings.LabelName, out var v) ? v : null;
            AppliedLabel = current;
            metrics.Role = current == settings.MasterLabelValue ? 2 : current == settings.ReplicaLabelValue && current is not null ? 1 : 0;
            if (desired is null)
            {
                // No Sentinel view yet: change nothing, report not ready.
                await SetReadyAsync(false, pod, "NoSentinelView", "waiting for a Sentinel view", ct).ConfigureAwait(false);
                return;
            }

            var wantMaster = desired.Label == RoleLabel.Master;
            var wantLabel = wantMaster ? settings.MasterLabelValue : settings.ReplicaLabelValue;
            var wasMaster = current == settings.MasterLabelValue;
            if (current == wantLabel) Interlocked.Exchange(ref pendingEventTimestamp, 0); // this pod's label is unaffected

            if (!wantMaster)
            {
                // Demotion order: readiness, label, then disconnect clients.
                await SetReadyAsync(desired.Ready, pod, desired.Ready ? "Replica" : "NotReady", desired.Reason, ct).ConfigureAwait(false);
                if (current != wantLabel)
                {
                    await pods.SetRoleLabelAsync(wantLabel, ct).ConfigureAwait(false);
                    LabelPatched(current, wantLabel, desired);
                    // A planned handover disconnects clients itself, after the failover and the unpause.
                    if (wasMaster && !HandoverActive)
                    {
                        try { await local.KillNormalClientsAsync(ct).ConfigureAwait(false); }
                        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                        {
                            Log.LocalProblem(logger, settings.LocalRedis.ToString(), "CLIENT KILL after demotion failed: " + e.GetType().Name);
                        }
                    }
                }
                return;
            }

            if (current != wantLabel)
            {
                await WaitForPeersToDropMasterAsync(ct).ConfigureAwait(false);
                await pods.SetRoleLabelAsync(wantLabel, ct).ConfigureAwait(false);
                LabelPatched(current, wantLabel, desired);
            }
            await SetReadyAsync(desired.Ready, pod, "Master", desired.Reason, ct).ConfigureAwait(false);
        }
        finally
        {
            reconcileGate.Release();
        }
    }

    void LabelPatched(string? from, string? to, DesiredState desired)
    {
        AppliedLabel = to;
        metrics.Role = to == settings.MasterLabelValue ? 2 : to is not null ? 1 : 0;
        var t = Interlocked.Exchange(ref pendingEventTimestamp, 0);
        if (t != 0) metrics.ObserveEventToLabel(time.GetElapsedTime(t));
        Log.RoleChanged(logger, from ?? "(none)", to ?? "(none)", Ready, desired.Ready, desired.Reason);
        _ = pods.RecordEventAsync("Normal", "RoleChanged", $"{settings.LabelName}: {from ?? "(none)"} -> {to ?? "(none)"}: {desired.Reason}", CancellationToken.None);
    }

    async Task SetReadyAsync(bool ready, PodSnapshot pod, string reason, string message, CancellationToken ct)
    {
        Ready = ready;
        metrics.Ready = ready;
        if (declaresGate == true && pod.ConditionTrue != ready)
            await pods.SetReadinessConditionAsync(ready, reason, message, ct).ConfigureAwait(false);
    }

    /// <summary>Never two pods labelled master: wait (bounded) until no peer carries the master label.</summary>
    async Task WaitForPeersToDropMasterAsync(CancellationToken ct)
    {
        var start = time.GetTimestamp();
        var peers = settings.PodNames.Where(n => n != settings.Common.PodName).ToArray();
        var logged = false;
        while (true)
        {
            var labelled = new List<string>();
            foreach (var peer in peers)
                if (await pods.ReadPeerLabelAsync(peer, ct).ConfigureAwait(false) == settings.MasterLabelValue) labelled.Add(peer);
            if (labelled.Count == 0) return;
            var waited = time.GetElapsedTime(start);
            if (waited >= settings.MasterLabelWait)
            {
                var names = string.Join(",", labelled);
                Log.PeerStillLabelled(logger, names, waited.TotalSeconds);
                await pods.RecordEventAsync("Warning", "PreviousMasterStillLabelled",
                    $"pod {names} still carries {settings.LabelName}={settings.MasterLabelValue} after {waited.TotalSeconds:0.0}s; its sidecar is gone or stuck; labelling this pod master anyway", ct).ConfigureAwait(false);
                return;
            }
            if (!logged) { Log.WaitingForPeer(logger, string.Join(",", labelled)); logged = true; }
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct).ConfigureAwait(false);
        }
    }
}
