using RedisSidecars.Testing.Chaos;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Chaos;

/// <summary>
/// Sequences the chaos runner found breaking an invariant, written out step by step (a seed alone would not survive
/// a change to the planner). Each runs the same invariants as the chaos run, on a fresh set, stopping at the first
/// violation.
/// </summary>
public sealed class ChaosRegressionTests(ITestOutputHelper output)
{
    static PlannedStep[] Steps(params PlannedStep[] steps) => steps;

    /// <summary>
    /// Seed 20261122, steps 9–11: the API blackholed for a few seconds (every watch open then is dead for good, until the
    /// sidecar's idle timeout reopens it), then, with the API answering again, an unplanned failover: the promoted
    /// replica must be labelled master and be the master Service's endpoint within the settle bound.
    /// </summary>
    [Fact]
    public Task ApiBlackholed_ThenMasterKilled_NewMasterLabelledWithinTheBound() => RunAsync(Steps(
        new PlannedStep(1, new PlannedFault(FaultKind.ApiFailure, Seconds: 4.8, Api: ApiOutage.Blackhole)),
        new PlannedStep(2, new PlannedFault(FaultKind.KillMaster, Seconds: 1))));

    /// <summary>
    /// Seed 4242, steps 13–17 (a blackhole, then failovers), in a short, reliable form: after the blackhole every pod
    /// watch is silently dead. A kill (the promoted pod reads its peers fresh while it waits for the old master's label),
    /// a handover (another pod takes the label; no other pod's watch shows it), then a kill while every API request takes
    /// 2 s (so the race below is not left to luck): the pod promoted now last saw the current master as a replica and
    /// sees no peer labelled (one write, 2 s), while the killed master's sidecar drops its label only once Sentinel names
    /// the new master, after its condition (two writes, 4 s). It must not label itself master until that label is gone.
    /// </summary>
    [Fact]
    public Task ApiBlackholed_ThenKillHandoverKill_NeverTwoMastersLabelled() => RunAsync(Steps(
        new PlannedStep(1, new PlannedFault(FaultKind.ApiFailure, Seconds: 6, Api: ApiOutage.Blackhole)),
        new PlannedStep(2, new PlannedFault(FaultKind.KillMaster, Seconds: 1)),
        new PlannedStep(3, new PlannedFault(FaultKind.Handover)),
        new PlannedStep(4, new PlannedFault(FaultKind.ApiFailure, Seconds: 10, Api: ApiOutage.Slow), new PlannedFault(FaultKind.KillMaster, Seconds: 1), Gap: 1, During: true)));

    async Task RunAsync(IReadOnlyList<PlannedStep> script)
    {
        var options = new ChaosOptions { Script = script, Log = Log };
        ChaosSummary summary;
        try { summary = await ChaosRunner.RunAsync(options); }
        catch (ChaosViolationException e)
        {
            Assert.Fail(e.Message); // names the invariant, the step and the server/sidecar log tails
            throw;
        }
        Assert.Equal(script.Count, summary.StepsRun);
        Assert.Empty(summary.Violations);
        Assert.Equal(0, summary.LostWrites);
    }

    void Log(string line)
    {
        try { output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}"); }
        catch (InvalidOperationException) { } // a late line after the test finished
    }
}
