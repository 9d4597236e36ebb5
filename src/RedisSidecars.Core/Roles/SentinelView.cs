using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;

namespace RedisSidecars.Core.Roles;

/// <summary>What the sidecar believes the Sentinels say. <see cref="Lost"/>: no Sentinel majority reachable for longer than the grace.</summary>
public sealed record SentinelView(NodeAddress? Master, long Epoch, string Source, bool Lost, int Reachable, int Configured);

/// <summary>
/// Combines the polled majority view with <c>+switch-master</c> events: an event with a newer config
/// epoch than the last seen is authoritative at once (it is the outcome of a quorum-elected failover);
/// a poll decides only with a majority of the configured Sentinels, and never rolls back a newer epoch.
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
                return new SentinelView(master, epoch, source, lost, reachable, configured);
            }
        }
    }

    /// <summary>Applies one poll of every Sentinel. Returns true when the believed master changed.</summary>
    public bool OnPoll(IReadOnlyCollection<SentinelAnswer> answers)
    {
        var answered = answers.Where(a => a.Answered).ToArray();
        var majority = MasterResolver.Majority(configured);
        var best = answered.GroupBy(a => a.Master!.Value).OrderByDescending(g => g.Count()).FirstOrDefault();
        lock (gate)
        {
            reachable = answers.Count(a => a.Error is null);
            if (reachable >= majority) lastMajorityReachable = time.GetTimestamp();
            if (best is null || best.Count() < majority) return false;
            var polledEpoch = best.Max(a => a.ConfigEpoch);
            if (polledEpoch < epoch && !best.Key.Equals(master)) return false; // an event already told us about a newer failover
            var changed = !best.Key.Equals(master);
            master = best.Key;
            epoch = Math.Max(epoch, polledEpoch);
            source = "poll";
            return changed;
        }
    }

    /// <summary>Applies a <c>+switch-master</c> whose config epoch was read from the announcing Sentinel. True if accepted.</summary>
    public bool OnSwitch(NodeAddress newMaster, long configEpoch)
    {
        lock (gate)
        {
            if (configEpoch <= epoch) return false;
            master = newMaster;
            epoch = configEpoch;
            source = "event";
            return true;
        }
    }
}
