namespace RedisSidecars.Core.Roles;

/// <summary>This pod as the watch cache last saw it (the only writer of its label and condition is this sidecar).</summary>
public sealed record ObservedPod(string? Label, bool DeclaresReadinessGate, bool? ConditionTrue);

/// <summary>Another pod of the set as the watch cache last saw it.</summary>
public sealed record ObservedPeer(string Name, string? Label, bool Terminating);

public abstract record PodStep
{
    /// <summary>Nothing to write: the pod is as desired (or must wait for the watch to show more).</summary>
    public sealed record Done : PodStep;
    public sealed record PatchCondition(bool Ready) : PodStep;
    /// <summary>A labelled master stepping down: the readiness condition False and the label <paramref name="Label"/>, sent together.</summary>
    public sealed record Demote(string? Label) : PodStep;
    /// <summary>Patch the role label; <paramref name="StillLabelled"/>: peers that still carry the master label after the bounded wait.</summary>
    public sealed record PatchLabel(string? Value, IReadOnlyList<string> StillLabelled) : PodStep;
    /// <summary>Labelling this pod master must wait until these peers drop the label (never two masters labelled).</summary>
    public sealed record WaitForPeers(IReadOnlyList<string> Labelled, TimeSpan Remaining) : PodStep;
}

/// <summary>The label values this set uses (null replica value: replicas carry no label).</summary>
public sealed record LabelValues(string Master, string? Replica);

/// <summary>
/// The next Kubernetes write that brings this pod from what the watch shows to what is desired: a pod going unready
/// reports it before its label changes, except a labelled master stepping down, which sends the condition and the
/// label together (the new master waits for exactly that label to go: one API round trip instead of two; /readyz is
/// down already, so the condition only follows it); a pod becoming master waits until no peer carries the master label
/// (bounded by MASTER_LABEL_WAIT_MS), then labels itself, then reports ready. Pure; the applier calls it again after
/// every write and every watch change.
/// </summary>
public static class PodPlanner
{
    /// <param name="waitingSince">How long this pod has been waiting for peers to drop the master label (null: not waiting).</param>
    /// <param name="conditionFailing">The last readiness-condition write failed: a label change goes first, so that an
    /// unwritable condition never keeps a demoted master's label on it (its /readyz is down already).</param>
    public static PodStep Next(RoleLabel label, bool ready, ObservedPod? own, IReadOnlyList<ObservedPeer> peers, LabelValues values,
        TimeSpan? waitingSince, TimeSpan labelWait, bool conditionFailing = false)
    {
        if (own is null) return new PodStep.Done(); // not seen yet: nothing can be compared
        var want = label switch
        {
            RoleLabel.Master => values.Master,
            RoleLabel.Replica => values.Replica,
            _ => own.Label,
        };
        var conditionWrong = own.DeclaresReadinessGate && own.ConditionTrue != ready;

        if (want == values.Master && own.Label != values.Master)
        {
            var labelled = peers.Where(p => p.Label == values.Master).Select(p => p.Name).ToArray();
            if (labelled.Length == 0) return new PodStep.PatchLabel(want, []);
            var waited = waitingSince ?? TimeSpan.Zero;
            return waited >= labelWait ? new PodStep.PatchLabel(want, labelled) : new PodStep.WaitForPeers(labelled, labelWait - waited);
        }
        if (conditionWrong && !ready && own.Label == values.Master && want != values.Master) return new PodStep.Demote(want);
        if (conditionWrong && !ready && !(conditionFailing && own.Label != want)) return new PodStep.PatchCondition(false);
        if (own.Label != want) return new PodStep.PatchLabel(want, []);
        if (conditionWrong) return new PodStep.PatchCondition(ready);
        return new PodStep.Done();
    }
}

/// <summary>
/// Which <c>replica-priority</c> a replica should advertise during a rolling update: a pod that runs an outdated
/// revision of the StatefulSet (its <c>controller-revision-hash</c> differs from the update revision) advertises a
/// worse priority, so Sentinel promotes an up-to-date replica when there is one and a rolling restart moves mastership
/// once. Only the two values this sidecar sets are managed: a template that sets any other value (0 = never promote)
/// is left alone.
/// </summary>
public static class ReplicaPriorityPlanner
{
    public const int Current = 100;
    public const int Outdated = 200;

    /// <returns>The priority to set, or null to leave it as it is.</returns>
    public static int? Plan(string? ownRevision, string? updateRevision, int? currentPriority)
    {
        if (currentPriority is not (Current or Outdated)) return null;
        var outdated = ownRevision is not null && updateRevision is not null && ownRevision != updateRevision;
        var want = outdated ? Outdated : Current;
        return want == currentPriority ? null : want;
    }
}
