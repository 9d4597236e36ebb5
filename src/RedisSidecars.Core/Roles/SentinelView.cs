using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;

namespace RedisSidecars.Core.Roles;

/// <summary>
/// What the sidecar believes the Sentinels say. <see cref="Lost"/>: no Sentinel majority reachable for longer than the
/// grace. <see cref="FailoverInProgress"/>: a reachable Sentinel reported a failover of the set in the last poll.
/// <see cref="Promoting"/>: the replica the leader of a failover of <see cref="Master"/> has sent <c>SLAVEOF NO ONE</c>
/// (<c>+failover-state-wait-promotion</c>), before Sentinel names it master; null when no such failover is under way.
/// </summary>
public sealed record SentinelView(NodeAddress? Master, long Epoch, string Source, bool Lost, int Reachable, int Configured, bool FailoverInProgress = false,
    NodeAddress? Promoting = null);

/// <summary>
/// Combines polls of every Sentinel with their failover signals (<c>+promoted-slave</c>, <c>+switch-master</c>).
/// A signal whose config epoch is newer than the last one seen is authoritative at once (it is the outcome of a
/// quorum-elected failover); a poll decides only with a majority of the configured Sentinels (the resolver's rule),
/// and never rolls back to an older epoch. A promotion under way (<see cref="OnPromotionStarted"/>) lasts until the view
/// moves on, the leader reports its failover over (ended or aborted), or the leader has not answered for the grace.
/// The tracker is the only writer of the view.
/// </summary>
public sealed class SentinelViewTracker
{
    readonly int configured;
    readonly TimeSpan grace;
    readonly TimeProvider time;
    readonly object gate = new();
    NodeAddress? master;
    long epoch = -1;
    string source = "none";
    long lastMajorityReachable;
    int reachable;
    bool failoverInProgress;
    (NodeAddress Sentinel, NodeAddress Replica, long Started, long Confirmed)? promotion; // of the master the view names

    public SentinelViewTracker(int configuredSentinels, TimeSpan lossGrace, TimeProvider timeProvider)
    {
        configured = configuredSentinels;
        grace = lossGrace;
        time = timeProvider;
        lastMajorityReachable = time.GetTimestamp();
    }

    public SentinelView Current
    {
        get
        {
            lock (gate)
            {
                var lost = time.GetElapsedTime(lastMajorityReachable) > grace;
                if (promotion is { } p && time.GetElapsedTime(p.Confirmed) > grace) promotion = null; // the leader is gone: the failover is not going on
                return new SentinelView(master, epoch, source, lost, reachable, configured, failoverInProgress, promotion?.Replica);
            }
        }
    }

    /// <summary>Applies one poll of every Sentinel, asked at <paramref name="askedAt"/> (a timestamp; 0: now). Returns true when the believed master changed.</summary>
    public bool OnPoll(IReadOnlyCollection<SentinelAnswer> answers, long askedAt = 0)
    {
        if (askedAt == 0) askedAt = time.GetTimestamp();
        var verdict = MasterResolver.JudgeSentinels(answers, configured);
        var majority = MasterResolver.Majority(configured);
        lock (gate)
        {
            reachable = answers.Count(a => a.Error is null);
            failoverInProgress = answers.Any(a => a.Answered && a.FailoverInProgress);
            // The leader's answer to a poll asked after the promotion began tells whether its failover still goes on.
            if (promotion is { } p && askedAt >= p.Started && answers.FirstOrDefault(a => a.Sentinel.Equals(p.Sentinel)) is { Answered: true } leader)
                promotion = leader.FailoverInProgress ? p with { Confirmed = askedAt } : null; // ended or aborted
            if (reachable >= majority) lastMajorityReachable = time.GetTimestamp();
            // A majority naming one master decides, failover flag or not: during a failover's last phase the Sentinels
            // already name the promoted replica while the leader still reports the failover in progress.
            if (verdict.Agree < majority || verdict.Master is not { } agreed) return false;
            var polledEpoch = answers.Where(a => a.Answered && a.Master!.Value.Equals(agreed)).Max(a => a.ConfigEpoch);
            if (polledEpoch < epoch && !agreed.Equals(master)) return false; // a signal already told of a newer failover
            var changed = !agreed.Equals(master);
            if (changed) promotion = null;
            master = agreed;
            epoch = Math.Max(epoch, polledEpoch);
            source = "poll";
            return changed;
        }
    }

    /// <summary>
    /// Applies a failover signal: the master and config epoch read together from the Sentinel that announced it.
    /// True if accepted (its epoch is newer than any seen).
    /// </summary>
    public bool OnSignal(NodeAddress newMaster, long configEpoch, string signal)
    {
        lock (gate)
        {
            if (configEpoch <= epoch) return false;
            promotion = null;
            master = newMaster;
            epoch = configEpoch;
            source = signal;
            return true;
        }
    }

    /// <summary>
    /// Applies <c>+failover-state-wait-promotion</c> from <paramref name="sentinel"/>: it has sent <c>SLAVEOF NO ONE</c> to
    /// <paramref name="replica"/> in place of <paramref name="replacing"/>. True if it concerns the master the view names
    /// (an event about another master is old news or another set's).
    /// </summary>
    public bool OnPromotionStarted(NodeAddress sentinel, NodeAddress replacing, NodeAddress replica)
    {
        lock (gate)
        {
            if (master is not { } m || !m.Equals(replacing) || replica.Equals(m)) return false;
            var now = time.GetTimestamp();
            promotion = (sentinel, replica, now, now);
            return true;
        }
    }
}
