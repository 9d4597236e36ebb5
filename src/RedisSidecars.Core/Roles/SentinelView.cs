using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;

namespace RedisSidecars.Core.Roles;

/// <summary>
/// What the sidecar believes the Sentinels say. <see cref="Lost"/>: no Sentinel majority reachable for longer than the
/// grace. <see cref="FailoverInProgress"/>: a reachable Sentinel reported a failover of the set in the last poll.
/// </summary>
public sealed record SentinelView(NodeAddress? Master, long Epoch, string Source, bool Lost, int Reachable, int Configured, bool FailoverInProgress = false);

/// <summary>
/// Combines polls of every Sentinel with their failover signals (<c>+promoted-slave</c>, <c>+switch-master</c>).
/// A signal whose config epoch is newer than the last one seen is authoritative at once (it is the outcome of a
/// quorum-elected failover); a poll decides only with a majority of the configured Sentinels (the resolver's rule),
/// and never rolls back to an older epoch. The tracker is the only writer of the view.
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
                return new SentinelView(master, epoch, source, lost, reachable, configured, failoverInProgress);
            }
        }
    }

    /// <summary>Applies one poll of every Sentinel. Returns true when the believed master changed.</summary>
    public bool OnPoll(IReadOnlyCollection<SentinelAnswer> answers)
    {
        var verdict = MasterResolver.JudgeSentinels(answers, configured);
        var majority = MasterResolver.Majority(configured);
        lock (gate)
        {
            reachable = answers.Count(a => a.Error is null);
            failoverInProgress = answers.Any(a => a.Answered && a.FailoverInProgress);
            if (reachable >= majority) lastMajorityReachable = time.GetTimestamp();
            // A majority naming one master decides, failover flag or not: during a failover's last phase the Sentinels
            // already name the promoted replica while the leader still reports the failover in progress.
            if (verdict.Agree < majority || verdict.Master is not { } agreed) return false;
            var polledEpoch = answers.Where(a => a.Answered && a.Master!.Value.Equals(agreed)).Max(a => a.ConfigEpoch);
            if (polledEpoch < epoch && !agreed.Equals(master)) return false; // a signal already told of a newer failover
            var changed = !agreed.Equals(master);
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
            master = newMaster;
            epoch = configEpoch;
            source = signal;
            return true;
        }
    }
}
