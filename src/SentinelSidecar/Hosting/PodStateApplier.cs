using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Hosting;

/// <summary>What the reconcile loop wants this pod to show: its role label and readiness condition.</summary>
public sealed record PodIntent(RoleLabel Label, bool Ready, string Reason);

/// <summary>
/// The only writer of this pod's role label and readiness condition. It brings the pod, as the watch cache shows it,
/// to the latest <see cref="PodIntent"/> one write at a time (<see cref="PodPlanner"/> decides which), retrying with
/// backoff while the API fails. It runs beside the reconcile loop and the handover and never gates them: /readyz, the
/// pause and the failover never wait for the API.
/// </summary>
public sealed class PodStateApplier(SidecarSettings settings, IKubeFacts kube, IPodClient writer, SidecarMetrics metrics, ILogger logger, TimeProvider time)
{
    static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(200);
    static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);
    static readonly TimeSpan ConfirmBudget = TimeSpan.FromSeconds(1);
    static readonly TimeSpan ProbeEvery = TimeSpan.FromSeconds(1);
    static readonly TimeSpan HeardWithin = TimeSpan.FromMilliseconds(250);
    /// <summary>Sentinel announces a promotion 0.1–1.1 s after it sent SLAVEOF NO ONE (the replica's next INFO); with margin.</summary>
    static readonly TimeSpan PromotionWithin = TimeSpan.FromSeconds(2);
    readonly LabelValues values = new(settings.MasterLabelValue, settings.ReplicaLabelValue);
    readonly object gate = new();
    PodIntent? intent;
    long intentAt; // when the current intent was published
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    long pendingSignal; // when an accepted failover signal arrived that may move this pod's label (0 = none)
    long freshReadAt; // when the last fresh read of the peers that answered was sent (0 = none)
    long promotionBegan; // when Sentinel's leader sent this pod SLAVEOF NO ONE (0 = not being promoted)

    /// <summary>Called after this pod's label went from master to something else (the demotion's last step).</summary>
    public Func<CancellationToken, Task>? OnDemoted { get; set; }

    /// <summary>The intent last published (null until the loop's first tick).</summary>
    public PodIntent? Intent { get { lock (gate) return intent; } }

    public void Publish(PodIntent next)
    {
        TaskCompletionSource wake;
        lock (gate)
        {
            if (next == intent) return;
            intent = next;
            intentAt = time.GetTimestamp();
            wake = changed;
            changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
    }

    /// <summary>A Kubernetes Event on this pod, best effort (never awaited on a critical path, never throws).</summary>
    public Task RecordEventAsync(string type, string reason, string message) => writer.RecordEventAsync(type, reason, message, CancellationToken.None);

    /// <summary>Sentinel's leader has sent this pod SLAVEOF NO ONE (<c>+failover-state-wait-promotion</c> naming it): see <see cref="JustHeard"/>.</summary>
    public void NotePromotionBegan() => Interlocked.Exchange(ref promotionBegan, time.GetTimestamp());

    /// <summary>A failover signal was accepted: time this pod's next label change from it (the event→label metric).</summary>
    public void NoteFailoverSignal(long receivedTimestamp) => Interlocked.CompareExchange(ref pendingSignal, receivedTimestamp, 0);

    public async Task RunAsync(CancellationToken ct)
    {
        long waitingSince = 0;
        long lastProbe = 0;
        var conditionFailing = false;
        var backoff = MinBackoff;
        var loggedWait = false;
        while (!ct.IsCancellationRequested)
        {
            Task intentChanged;
            PodIntent? want;
            long wantAt;
            lock (gate) { want = intent; wantAt = intentAt; intentChanged = changed.Task; }
            var facts = kube.Current;
            if (want is null || !facts.Synced || facts.Own is null)
            {
                await WaitAsync(intentChanged, facts.Version, null, ct).ConfigureAwait(false);
                continue;
            }

            var own = Observe(facts.Own);
            var peers = facts.Peers.Select(p => new ObservedPeer(p.Name, Label(p), p.Terminating)).ToArray();
            var waited = waitingSince == 0 || !facts.Live ? (TimeSpan?)null : time.GetElapsedTime(waitingSince);
            var step = PodPlanner.Next(want.Label, want.Ready, own, peers, values, waited, settings.MasterLabelWait, conditionFailing);
            if (step is not PodStep.WaitForPeers) { waitingSince = 0; lastProbe = 0; loggedWait = false; }
            try
            {
                switch (step)
                {
                    case PodStep.Done:
                        // An intent decided after the signal leaves this pod's label as it is: nothing to time.
                        var signal = Interlocked.Read(ref pendingSignal);
                        if (signal != 0 && wantAt >= signal) Interlocked.CompareExchange(ref pendingSignal, 0, signal);
                        await WaitAsync(intentChanged, facts.Version, null, ct).ConfigureAwait(false);
                        continue;
                    case PodStep.WaitForPeers w:
                        // The bound is for a previous master whose sidecar is gone: it counts only while the watch is live
                        // (during an API outage that sidecar cannot drop its label either), from the first live view on.
                        if (!facts.Live) waitingSince = 0;
                        else if (waitingSince == 0) waitingSince = time.GetTimestamp();
                        if (!loggedWait) { Log.WaitingForPeer(logger, string.Join(",", w.Labelled)); loggedWait = true; }
                        // While waiting (never at rest), read the peers fresh once a second: an API that fails now may be all
                        // that delays the previous master's sidecar, so the bound starts over. Not at once: the watch has just
                        // shown the label, and a read now would only compete with the previous master's own write.
                        if (lastProbe == 0) lastProbe = time.GetTimestamp();
                        else if (time.GetElapsedTime(lastProbe) >= ProbeEvery)
                        {
                            lastProbe = time.GetTimestamp();
                            if (await StillLabelledNowAsync(w.Labelled, ct).ConfigureAwait(false) is null && waitingSince != 0) waitingSince = time.GetTimestamp();
                        }
                        await WaitAsync(intentChanged, facts.Version, w.Remaining < ProbeEvery ? w.Remaining : ProbeEvery, ct).ConfigureAwait(false);
                        continue;
                    case PodStep.PatchCondition c:
                        try { await writer.SetReadinessConditionAsync(c.Ready, c.Ready ? "Ready" : "NotReady", want.Reason, ct).ConfigureAwait(false); }
                        catch (PodApiException) { conditionFailing = true; throw; }
                        conditionFailing = false;
                        break;
                    case PodStep.Demote d:
                        {
                            // Both writes at once; each failure is retried from what the watch shows next.
                            var condition = writer.SetReadinessConditionAsync(false, "NotReady", want.Reason, ct);
                            var label = writer.SetRoleLabelAsync(d.Label, ct);
                            PodApiException? failed = null;
                            try { await condition.ConfigureAwait(false); conditionFailing = false; }
                            catch (PodApiException e) { conditionFailing = true; failed = e; }
                            try
                            {
                                await label.ConfigureAwait(false);
                                Labelled(own.Label, d.Label, want);
                                if (OnDemoted is { } afterDemotion) await afterDemotion(ct).ConfigureAwait(false);
                            }
                            catch (PodApiException e) { failed ??= e; }
                            if (failed is not null) throw failed;
                            break;
                        }
                    case PodStep.PatchLabel l:
                        if (l.Value == settings.MasterLabelValue && l.StillLabelled.Count == 0 && !JustHeard(facts) && await PeerLabelledNowAsync(ct).ConfigureAwait(false) != false)
                        {
                            // The cache shows no peer labelled master, but a watch can be silently dead (a blackholed
                            // connection, until its idle timeout) and show nothing new: the label is taken only once a
                            // fresh read agrees, or the watch has just answered (typically the event that showed the
                            // previous master's label gone). A peer still labelled (the read has put it into the cache)
                            // or no answer: plan again shortly.
                            await WaitAsync(intentChanged, facts.Version, ConfirmBudget, ct).ConfigureAwait(false);
                            continue;
                        }
                        if (l.StillLabelled.Count > 0 && await StillLabelledNowAsync(l.StillLabelled, ct).ConfigureAwait(false) != true)
                        {
                            // The API did not confirm it promptly, or the label is already gone: the watch will tell.
                            waitingSince = time.GetTimestamp();
                            await WaitAsync(intentChanged, facts.Version, ConfirmBudget, ct).ConfigureAwait(false);
                            continue;
                        }
                        if (l.StillLabelled.Count > 0)
                        {
                            var names = string.Join(",", l.StillLabelled);
                            Log.PeerStillLabelled(logger, names, settings.MasterLabelWait.TotalSeconds);
                            _ = writer.RecordEventAsync("Warning", "PreviousMasterStillLabelled",
                                $"pod {names} still carries {settings.LabelName}={settings.MasterLabelValue} after {settings.MasterLabelWait.TotalSeconds:0.0}s; its sidecar is gone or stuck; labelling this pod master anyway", CancellationToken.None);
                        }
                        await writer.SetRoleLabelAsync(l.Value, ct).ConfigureAwait(false);
                        Labelled(own.Label, l.Value, want);
                        if (own.Label == settings.MasterLabelValue && OnDemoted is { } demoted) await demoted(ct).ConfigureAwait(false);
                        break;
                }
                backoff = MinBackoff;
                // The watch shows a write a moment after the API took it: plan the next step from a view that includes it,
                // not from the one this write was planned on (that would send it again). Bounded: a write the watch never
                // shows is sent again.
                await WaitAsync(intentChanged, facts.Version, MaxBackoff, ct).ConfigureAwait(false);
            }
            catch (PodApiException e) when (!ct.IsCancellationRequested)
            {
                // Logged by the writer; the next attempt re-plans from what the watch shows then.
                Log.ApiProblem(logger, step.GetType().Name, e.Message);
                await WaitAsync(intentChanged, facts.Version, Jitter(backoff), ct).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>
    /// The watch delivered something (an event, a bookmark, a list), or a fresh read of the peers was sent and answered,
    /// within <see cref="HeardWithin"/>, or since this pod's promotion began (<see cref="HeardSincePromotionBegan"/>):
    /// the cache is as current as a fresh read would be, give or take the same few milliseconds a read's answer is old on arrival.
    /// </summary>
    bool JustHeard(KubeFacts facts) =>
        facts.Live && (Recent(kube.HeardAt) || Recent(Interlocked.Read(ref freshReadAt)) || HeardSincePromotionBegan());

    /// <summary>
    /// This pod's promotion began at most <see cref="PromotionWithin"/> ago and the watch has delivered something since
    /// (typically the previous master's label going, which it drops when the promotion begins): the watch was live
    /// after the only other pod that could carry the label gave it up, and within this one failover no other pod can
    /// take it (Sentinel names only the pod it is promoting), so the cache is as good as a fresh read.
    /// </summary>
    bool HeardSincePromotionBegan()
    {
        var began = Interlocked.Read(ref promotionBegan);
        return began != 0 && time.GetElapsedTime(began) <= PromotionWithin && kube.HeardAt is var heard && heard >= began;
    }

    bool Recent(long at) => at != 0 && time.GetElapsedTime(at) <= HeardWithin;

    /// <summary>
    /// Reads the peers that still carry the master label fresh from the API (never the cache): true when every one
    /// still does, false when one no longer does, null when the API did not answer promptly. Before labelling this pod
    /// master past a still-labelled peer only a prompt true counts: a slow or failed read means the API is not healthy,
    /// and the previous master's own unlabelling may still be on its way.
    /// </summary>
    async Task<bool?> StillLabelledNowAsync(IReadOnlyList<string> peers, CancellationToken ct) =>
        await PeerLabelsNowAsync(ConfirmBudget, ct).ConfigureAwait(false) is { } now
            ? peers.All(peer => now.GetValueOrDefault(peer) == settings.MasterLabelValue)
            : null;

    /// <summary>Whether another pod of the set carries the master label, read from the API now; null when the API did not answer.</summary>
    async Task<bool?> PeerLabelledNowAsync(CancellationToken ct) =>
        await PeerLabelsNowAsync(null, ct).ConfigureAwait(false) is { } now ? now.Values.Any(v => v == settings.MasterLabelValue) : null;

    /// <summary>The peers' role labels read fresh (one list), within <paramref name="budget"/> when given; null when the API did not answer.</summary>
    async Task<IReadOnlyDictionary<string, string?>?> PeerLabelsNowAsync(TimeSpan? budget, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (budget is { } b) bounded.CancelAfter(b);
        try
        {
            // A read that answered is as fresh as the moment it was sent (its answer also updates the watch cache).
            var sent = time.GetTimestamp();
            var labels = await writer.ReadPeerLabelsNowAsync(bounded.Token).ConfigureAwait(false);
            Interlocked.Exchange(ref freshReadAt, sent);
            return labels;
        }
        catch (Exception e) when (e is PodApiException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    void Labelled(string? from, string? to, PodIntent want)
    {
        var t = Interlocked.Exchange(ref pendingSignal, 0);
        if (t != 0) metrics.ObserveEventToLabel(time.GetElapsedTime(t));
        metrics.Role = to == settings.MasterLabelValue ? 2 : to is not null ? 1 : 0;
        Log.RoleChanged(logger, from ?? "(none)", to ?? "(none)", want.Ready, want.Reason);
        _ = writer.RecordEventAsync("Normal", "RoleChanged", $"{settings.LabelName}: {from ?? "(none)"} -> {to ?? "(none)"}: {want.Reason}", CancellationToken.None);
    }

    /// <summary>Waits for a new intent, a change in the watch cache, or <paramref name="timeout"/>.</summary>
    async Task WaitAsync(Task intentChanged, long version, TimeSpan? timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tasks = new List<Task> { intentChanged, kube.WaitForChangeAsync(version, cts.Token) };
        if (timeout is { } t) tasks.Add(Task.Delay(t, time, cts.Token));
        await Task.WhenAny(tasks).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
    }

    ObservedPod Observe(PodFacts pod) => new(Label(pod), pod.DeclaresReadinessGate, pod.ConditionTrue);

    string? Label(PodFacts pod) => pod.Labels.TryGetValue(settings.LabelName, out var v) ? v : null;

    static TimeSpan Jitter(TimeSpan t) => t * (0.8 + Random.Shared.NextDouble() * 0.4);
}
