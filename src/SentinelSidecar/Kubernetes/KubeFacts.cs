namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>What the sidecar knows of one pod of its StatefulSet (from the watch cache).</summary>
public sealed record PodFacts(string Name, string? Uid, IReadOnlyDictionary<string, string> Labels,
    bool DeclaresReadinessGate, bool? ConditionTrue, string? RevisionHash, bool Terminating);

/// <summary>
/// A consistent snapshot of the watch cache. <see cref="Live"/>: the watch is connected now (its view is current), as
/// opposed to the last view kept through an outage.
/// </summary>
public sealed record KubeFacts(bool Synced, PodFacts? Own, IReadOnlyList<PodFacts> Peers, string? UpdateRevision, long Version, bool Live = true);

/// <summary>The watch cache: its own pod, its peers and its StatefulSet's update revision, from one list + watch.</summary>
public interface IKubeFacts
{
    KubeFacts Current { get; }
    /// <summary>Completes when <see cref="Current"/>'s version is above <paramref name="version"/> (or <paramref name="ct"/> fires).</summary>
    Task WaitForChangeAsync(long version, CancellationToken ct);
    /// <summary>List + watch until <paramref name="ct"/>; survives any outage; never throws but for cancellation.</summary>
    Task RunAsync(CancellationToken ct);
}
