using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Roles;

/// <summary>How a planned handover ended. The answer, the log line and the metric all say which.</summary>
public enum HandoverOutcome
{
    /// <summary>Sentinel promoted a replica; this node now replicates it; writes resumed (there).</summary>
    HandedOver,
    /// <summary>Not master: nothing to hand over.</summary>
    NotMaster,
    /// <summary>No online replica: stays master.</summary>
    NoHealthyReplica,
    /// <summary>Sentinel names this pod but its Redis does not answer: writes cannot be paused.</summary>
    LocalUnreachable,
    /// <summary>No Sentinel could act now (unreachable, in TILT, naming another master or already failing over): never paused, stays master.</summary>
    NoSentinelReady,
    /// <summary>The chosen Sentinel refused SENTINEL FAILOVER: unpaused, stays master.</summary>
    SentinelRefused,
    /// <summary>Not every online replica reached the master's offset in time: no failover was asked; unpaused, stays master.</summary>
    CatchUpTimedOut,
    /// <summary>A failover was accepted and verifiably aborted (no Sentinel has it in progress, all name this pod): unpaused, stays master.</summary>
    FailoverAborted,
    /// <summary>The bound ran out while an accepted failover may still happen: writes stay paused until it completes or aborts.</summary>
    FailoverPending,
}

public static class HandoverOutcomes
{
    /// <summary>Outcomes a caller (the preStop hook, an operator) must see as failures.</summary>
    public static bool IsFailure(HandoverOutcome o) => o is not (HandoverOutcome.HandedOver or HandoverOutcome.NotMaster or HandoverOutcome.NoHealthyReplica);
}

/// <summary>One Sentinel as probed during a handover: what it names, whether it can act now.</summary>
public sealed record SentinelProbe(NodeAddress Sentinel, string? Error, NodeAddress? Master, long Epoch, bool Tilt, bool FailoverInProgress)
{
    public bool Reachable => Error is null && Master is not null;
}

public abstract record HandoverStep
{
    /// <summary>Do not hand over; say why.</summary>
    public sealed record Finish(HandoverOutcome Outcome, string Detail) : HandoverStep;
    public sealed record Proceed(int OnlineReplicas) : HandoverStep;
    /// <summary>Ask this Sentinel to fail over.</summary>
    public sealed record Ask(NodeAddress Sentinel) : HandoverStep;
    /// <summary>Nothing can be done yet (e.g. every Sentinel in TILT): probe again until the bound.</summary>
    public sealed record Wait(string Why) : HandoverStep;
    /// <summary>The promotion happened: replicate the new master, unpause, disconnect clients.</summary>
    public sealed record Promoted(NodeAddress NewMaster, string Seen) : HandoverStep;
}

/// <summary>
/// The decisions of a planned handover (DESIGN.md "Planned handover"), pure. The coordinator gathers facts (local
/// Redis, Sentinel probes, signals), asks these, and applies the answer. The rule that matters most: never unpause
/// into a failover that may still happen.
/// </summary>
public static class HandoverPlanner
{
    /// <summary>Whether there is anything to hand over.</summary>
    public static HandoverStep Start(LocalRedisState local, SentinelView view, Func<NodeAddress, bool> isMe)
    {
        var namedMe = view.Master is { } m && isMe(m);
        if (local.Role == LocalRole.Unknown && namedMe)
            return new HandoverStep.Finish(HandoverOutcome.LocalUnreachable,
                $"Sentinel names this pod master but the local Redis does not answer ({local.Error}); cannot pause writes for a handover");
        if (local.Role != LocalRole.Master || !namedMe)
            return new HandoverStep.Finish(HandoverOutcome.NotMaster,
                $"not master (local {local.Role}, sentinels name {view.Master?.ToString() ?? "nobody"}); nothing to hand over");
        var online = local.OnlineReplicas.Count;
        return online == 0
            ? new HandoverStep.Finish(HandoverOutcome.NoHealthyReplica, "no online replica to hand over to; staying master")
            : new HandoverStep.Proceed(online);
    }

    /// <summary>
    /// Picks a Sentinel that can act now: reachable, naming this pod master, not in TILT (a Sentinel in TILT answers
    /// OK to SENTINEL FAILOVER but acts only when TILT ends, 30 s later), no failover of the set already in progress.
    /// </summary>
    public static HandoverStep ChooseSentinel(IReadOnlyList<SentinelProbe> probes, Func<NodeAddress, bool> isMe)
    {
        var ready = probes.FirstOrDefault(p => p.Reachable && isMe(p.Master!.Value) && !p.Tilt && !p.FailoverInProgress);
        if (ready is not null) return new HandoverStep.Ask(ready.Sentinel);
        var why = string.Join(", ", probes.Select(p =>
            !p.Reachable ? $"{p.Sentinel} unreachable ({p.Error})"
            : p.Tilt ? $"{p.Sentinel} in TILT"
            : p.FailoverInProgress ? $"{p.Sentinel} has a failover in progress"
            : $"{p.Sentinel} names {p.Master}"));
        return new HandoverStep.Wait("no Sentinel can act now: " + why);
    }

    /// <summary>
    /// Whether the Sentinel about to be asked has read every replica's <c>replica-priority</c> as this sidecar's peers set
    /// it (<paramref name="expected"/>: 100 for a pod at the StatefulSet's update revision, 200 for an outdated one).
    /// Sentinel picks the replica to promote from what it read with its last <c>INFO</c> of that replica, every 10 s:
    /// a priority changed since (a rolling restart just began) is not seen yet, and with equal priorities the ranking
    /// falls to offsets read up to 10 s ago as well — so an outdated replica could be promoted over an up-to-date one.
    /// Only the two managed values count (a template's own value, e.g. 0, is left to Sentinel). Null: nothing stale;
    /// otherwise what is, for the log.
    /// </summary>
    public static string? StalePriority(IReadOnlyList<SentinelEntry> sentinelReplicas,
        IReadOnlyList<(NodeAddress Node, int Expected)> expected)
    {
        foreach (var (node, want) in expected)
        {
            var row = sentinelReplicas.FirstOrDefault(r => r.Address is { } a && a.Equals(node));
            if (row is null || row.ReplicaPriority is not (ReplicaPriorityPlanner.Current or ReplicaPriorityPlanner.Outdated)) continue;
            if (row.ReplicaPriority != want) return $"Sentinel still has {node} at replica-priority {row.ReplicaPriority} (it is {want} now)";
        }
        return null;
    }

    /// <summary>
    /// With no online replica: whether one is on its way, so that the handover waits for it (bounded) instead of
    /// leaving the pod to stop as master. Right after a failover the old master and the other replicas reconnect and
    /// resync for a moment, and a pod deleted then would otherwise stop unhanded. Evidence: a replica this master lists
    /// while it syncs (<paramref name="local"/>), or one a Sentinel holds as a replica of this master and not down
    /// (<paramref name="sentinelReplicas"/>: no <c>s_down</c>, <c>o_down</c> or <c>disconnected</c>). Null: none (a lone
    /// master, or every replica down): no wait. Otherwise what is coming, for the log. A row naming this pod itself (a
    /// Sentinel that has not seen this pod's promotion yet) is no evidence.
    /// </summary>
    public static string? ReplicaComing(LocalRedisState local, IReadOnlyList<SentinelEntry>? sentinelReplicas, Func<NodeAddress, bool> isMe)
    {
        if (local.OnlineReplicas.Count > 0) return null;
        if ((local.Replicas ?? []).FirstOrDefault() is { } syncing)
            return $"replica {syncing.Address} is attached ({syncing.State})";
        if ((sentinelReplicas ?? []).FirstOrDefault(r => r.Address is { } a && !isMe(a) && !r.HasFlag("s_down") && !r.HasFlag("o_down") && !r.HasFlag("disconnected")) is { } alive)
            return $"Sentinel holds {alive.Address} as a replica of this master, up ({alive.FlagText}, link {(alive.LinkOk ? "ok" : "down")})";
        return null;
    }

    /// <summary>
    /// Whether every online replica has reached the master's offset (writes are paused, so the offset stands still).
    /// Every one, not any: Sentinel picks the replica to promote by priority and by offsets it read up to ten seconds
    /// ago, so a replica still missing the tail could be promoted and the tail lost. A replica counts as caught up by
    /// its own offset (<paramref name="replicaOffsets"/>: what the replicas answered directly, at once) or by the offset
    /// it last acknowledged to the master (its <c>INFO</c>, up to a second old); whichever shows more replicas there.
    /// </summary>
    public static bool CaughtUp(LocalRedisState local, IReadOnlyList<long> replicaOffsets)
    {
        var online = local.OnlineReplicas;
        if (local.Role != LocalRole.Master || online.Count == 0) return false;
        var acknowledged = online.Count(r => r.Offset >= local.Offset);
        var direct = replicaOffsets.Count(o => o >= local.Offset);
        return Math.Max(acknowledged, direct) >= online.Count;
    }

    /// <summary>
    /// After <paramref name="accepting"/> accepted SENTINEL FAILOVER (with <paramref name="epochBefore"/> the set's
    /// epoch then): promoted (that Sentinel, or a newer-epoch signal, names another master), verifiably aborted
    /// (the accepting Sentinel answers, names this pod, has no failover in progress, and neither has any other reachable
    /// Sentinel), or still pending.
    /// </summary>
    public static HandoverStep AfterAccept(NodeAddress accepting, IReadOnlyList<SentinelProbe> probes, SentinelView view, long epochBefore,
        Func<NodeAddress, bool> isMe)
    {
        var asked = probes.FirstOrDefault(p => p.Sentinel.Equals(accepting));
        if (asked is { Reachable: true } && !isMe(asked.Master!.Value))
            return new HandoverStep.Promoted(asked.Master!.Value, $"{accepting} names {asked.Master}");
        if (view.Epoch > epochBefore && view.Master is { } m && !isMe(m))
            return new HandoverStep.Promoted(m, $"{view.Source} (epoch {view.Epoch})");
        if (asked is { Reachable: true, FailoverInProgress: false } && isMe(asked.Master!.Value)
            && probes.Where(p => p.Reachable).All(p => !p.FailoverInProgress && isMe(p.Master!.Value)))
            return new HandoverStep.Finish(HandoverOutcome.FailoverAborted,
                $"the failover accepted by {accepting} was aborted: no Sentinel has it in progress and all reachable ones name this pod; writes resumed here");
        return new HandoverStep.Wait(asked is { Reachable: true } ? $"{accepting} has the failover in progress" : $"{accepting} does not answer ({asked?.Error ?? "not probed"})");
    }
}
