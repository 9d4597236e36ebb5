using RedisSidecars.Core.Settings;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>Interim <see cref="IKubeFacts"/> over GETs (replaced by the watch cache).</summary>
public sealed class PolledKubeFacts(SidecarSettings settings, IPodWriter pods, TimeProvider time) : IKubeFacts
{
    readonly object gate = new();
    KubeFacts current = new(false, null, [], null, 0);
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public KubeFacts Current { get { lock (gate) return current; } }

    public async Task WaitForChangeAsync(long version, CancellationToken ct)
    {
        Task wait;
        lock (gate) { if (current.Version > version) return; wait = changed.Task; }
        await wait.WaitAsync(ct).ConfigureAwait(false);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var own = await pods.ReadOwnPodAsync(ct).ConfigureAwait(false);
                var peers = new List<PodFacts>();
                foreach (var name in settings.PodNames.Where(n => n != settings.Common.PodName))
                {
                    var label = await pods.ReadPeerLabelAsync(name, ct).ConfigureAwait(false);
                    peers.Add(new PodFacts(name, null, label is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [settings.LabelName] = label }, false, null, null, false));
                }
                var ownFacts = new PodFacts(settings.Common.PodName!, own.Uid, own.Labels, own.DeclaresReadinessGate, own.ConditionTrue, null, false);
                TaskCompletionSource wake;
                lock (gate)
                {
                    var same = current.Own is { } o && o.ConditionTrue == ownFacts.ConditionTrue && o.DeclaresReadinessGate == ownFacts.DeclaresReadinessGate
                        && o.Labels.Count == ownFacts.Labels.Count && !o.Labels.Except(ownFacts.Labels).Any()
                        && current.Peers.Count == peers.Count && current.Peers.Zip(peers).All(p => p.First.Labels.Count == p.Second.Labels.Count && !p.First.Labels.Except(p.Second.Labels).Any());
                    if (same && current.Synced && current.Live) { wake = null!; }
                    else
                    {
                        current = new KubeFacts(true, ownFacts, peers, null, current.Version + 1);
                        wake = changed;
                        changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                }
                wake?.TrySetResult();
            }
            catch (PodWriteException)
            {
                TaskCompletionSource? wake = null;
                lock (gate)
                {
                    if (current.Live)
                    {
                        current = current with { Live = false, Version = current.Version + 1 };
                        wake = changed;
                        changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                }
                wake?.TrySetResult();
            }
            try { await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }
}
