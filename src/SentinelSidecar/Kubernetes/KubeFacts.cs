namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>What the sidecar knows of one pod of its StatefulSet (from the watch cache).</summary>
/// <param name="DeclaresReadinessGate">spec.readinessGates has READINESS_CONDITION_TYPE.</param>
/// <param name="ConditionTrue">That condition's status; null = absent.</param>
/// <param name="RevisionHash">labels["controller-revision-hash"].</param>
/// <param name="Terminating">metadata.deletionTimestamp set.</param>
public sealed record PodFacts(string Name, string? Uid, IReadOnlyDictionary<string, string> Labels,
    bool DeclaresReadinessGate,
    bool? ConditionTrue,
    string? RevisionHash,
    bool Terminating)
{
    public const string RevisionLabel = "controller-revision-hash";
    public const string PodNameLabel = "statefulset.kubernetes.io/pod-name";

    /// <summary>The label <paramref name="key"/>, or null when the pod does not carry it.</summary>
    public string? Label(string key) => Labels.TryGetValue(key, out var v) ? v : null;

    public static PodFacts From(PodObject pod, string readinessConditionType)
    {
        var labels = pod.Metadata?.Labels is { } l ? new Dictionary<string, string>(l, StringComparer.Ordinal) : new Dictionary<string, string>(StringComparer.Ordinal);
        var gate = pod.Spec?.ReadinessGates?.Any(g => g.ConditionType == readinessConditionType) == true;
        var condition = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == readinessConditionType);
        return new PodFacts(pod.Metadata?.Name ?? "", pod.Metadata?.Uid, labels, gate,
            condition is null ? null : string.Equals(condition.Status, "True", StringComparison.OrdinalIgnoreCase),
            labels.GetValueOrDefault(RevisionLabel), pod.Metadata?.DeletionTimestamp is not null);
    }

    /// <summary>Value equality including the labels' contents (records compare dictionaries by reference).</summary>
    public bool SameAs(PodFacts? other) =>
        other is not null && Name == other.Name && Uid == other.Uid && DeclaresReadinessGate == other.DeclaresReadinessGate
        && ConditionTrue == other.ConditionTrue && RevisionHash == other.RevisionHash && Terminating == other.Terminating
        && Labels.Count == other.Labels.Count && Labels.All(kv => other.Labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
}

/// <summary>A consistent snapshot of the cache.</summary>
/// <param name="Synced">The initial list is done (before that, Own and Peers are empty).</param>
/// <param name="Own">This pod; null when the cache has not seen it (not synced, or the pod is gone).</param>
/// <param name="Peers">The other pods of the StatefulSet the cache has seen, in ordinal order.</param>
/// <param name="UpdateRevision">StatefulSet status.updateRevision; null = unknown/unreadable.</param>
/// <param name="Version">+1 on every change.</param>
/// <param name="Live">The pod watch is current (listed or delivering); false from a failure until it recovers: the facts are the last ones kept.</param>
public sealed record KubeFacts(bool Synced, PodFacts? Own, IReadOnlyList<PodFacts> Peers, string? UpdateRevision, long Version, bool Live = true)
{
    public static KubeFacts Empty { get; } = new(false, null, [], null, 0);
}

/// <summary>The sidecar's view of its StatefulSet's pods, fed by one list + watch (no polling).</summary>
public interface IKubeFacts
{
    KubeFacts Current { get; }

    /// <summary>
    /// When the pod watch last proved itself current (a list, or any watch event, bookmarks included); 0 = never.
    /// A watch stream can die silently (a blackholed connection shows nothing until its idle timeout): only an answer
    /// that just arrived shows the cache is as fresh as a new read would be.
    /// </summary>
    long HeardAt { get; }

    /// <summary>Completes when <c>Current.Version &gt; version</c>.</summary>
    Task WaitForChangeAsync(long version, CancellationToken ct);

    /// <summary>
    /// Evidence that the set is changing (<paramref name="why"/>: Sentinel saw one of its instances go down, come back or
    /// restart): a watch silent for longer than <see cref="KubeWatchOptions.ReproveAfter"/> is reopened from its
    /// resourceVersion now, so that a silently dead watch does not hide the change until its idle timeout.
    /// </summary>
    void Reprove(string why) { }

    /// <summary>List + watch until <paramref name="ct"/>; survives any outage; never throws but OCE on ct.</summary>
    Task RunAsync(CancellationToken ct);
}
