namespace RedisSidecars.Core.Discovery;

public enum StartupAction { BecomeMaster, Replicate, WaitForFailover }

public sealed record StartupPlan(StartupAction Action, string Reason);

/// <summary>
/// The empty-restart guard (DESIGN.md "Finding the master" step 4): a Redis pod named master by
/// others must not start as master with an empty data directory while its peers may hold data.
/// </summary>
public static class StartupPlanner
{
    /// <param name="decision">The discovered master.</param>
    /// <param name="decidedIsMe">The discovered master is this pod.</param>
    /// <param name="localHasData">The data directory holds an RDB or AOF file.</param>
    /// <param name="peers">The peers' answers from the same round (may be empty).</param>
    public static StartupPlan Plan(MasterDecision decision, bool decidedIsMe, bool localHasData, IReadOnlyCollection<PeerAnswer> peers, int configuredPeers)
    {
        if (!decidedIsMe) return new(StartupAction.Replicate, "another pod is master");
        if (decision.Source == DecisionSource.Default) return new(StartupAction.BecomeMaster, "nothing reachable and this is pod-0");
        if (localHasData) return new(StartupAction.BecomeMaster, "named master and the data directory holds data");
        var answered = peers.Where(p => p.Answered).ToArray();
        if (configuredPeers > 0 && answered.Length == configuredPeers && answered.All(p => p.HoldsData == false))
            return new(StartupAction.BecomeMaster, "named master with an empty data directory, but no peer holds data either");
        return new(StartupAction.WaitForFailover,
            "named master by the " + decision.SourceName + " but the data directory has no RDB/AOF: starting as master would wipe the replicas");
    }
}
