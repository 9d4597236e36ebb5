using RedisSidecars.Testing.Chaos;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Chaos;

/// <summary>
/// The short chaos run for CI: every fault kind once, then the compound pairs that broke a real cluster
/// (<see cref="ChaosPlanner.KeyPairs"/>: a handover right after TILT, a handover with the API down, the master killed
/// while a replica full-syncs, a handover right after a kill-and-restart, a Sentinel restarted mid-failover, the API
/// failing during a failover), against 3 Redis + 3 Sentinels + 3 published sidecars while a WAIT-1 client writes
/// through the master Service, with every invariant checked after every step. Replay or lengthen with
/// CHAOS_SEED=… CHAOS_STEPS=…; long runs go through the benchmark harness (<c>--only chaos</c>).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    const int CiSeed = 20261122;

    [Fact]
    public async Task EveryFaultKindAndKeyCompoundPairs_InvariantsHoldAfterEveryStep()
    {
        var kinds = Enum.GetValues<FaultKind>().Length;
        var options = ChaosOptions.FromEnvironment(new ChaosOptions
        {
            Seed = CiSeed,
            Steps = kinds + ChaosPlanner.KeyPairs.Count,
            Log = Log,
        });
        output.WriteLine($"seed {options.Seed}, {options.Steps} steps (replay: CHAOS_SEED={options.Seed} CHAOS_STEPS={options.Steps})");

        var summary = await RunAsync(options);

        Assert.Equal(options.Steps, summary.StepsRun);
        if (options.Faults is null && options.Steps >= kinds + ChaosPlanner.KeyPairs.Count)
        {
            Assert.All(Enum.GetValues<FaultKind>(), k => Assert.True(summary.Faults.GetValueOrDefault(k) > 0, $"{k} never ran"));
            Assert.All(ChaosPlanner.KeyPairs, p => Assert.True(summary.Pairs.GetValueOrDefault(p.ToString()) > 0, $"{p} never ran"));
        }
        Assert.True(summary.AckedWrites > 1000, $"only {summary.AckedWrites} acknowledged writes");
    }

    [Fact]
    public void Plan_SameSeed_SameSteps_AndCoverageFirst()
    {
        var o = new ChaosOptions { Seed = 7, Steps = 60 };
        var plan = ChaosPlanner.Plan(o);
        Assert.Equal(plan, ChaosPlanner.Plan(o));
        Assert.Equal(60, plan.Count);
        var singles = plan.Take(Enum.GetValues<FaultKind>().Length).ToList();
        Assert.All(singles, p => Assert.Null(p.Then));
        Assert.Equal(Enum.GetValues<FaultKind>().Order(), singles.Select(p => p.Fault.Kind).Order());
        var firstPairs = plan.Skip(singles.Count).Take(ChaosPlanner.KeyPairs.Count).Select(p => p.Pair).ToList();
        Assert.Equal(ChaosPlanner.KeyPairs.Select(p => p.ToString()).Order(), firstPairs.Order());
        // Compound gaps are drawn in [0, MaxGap]; a "during" step's second fault lands while the first is in force.
        Assert.All(plan.Where(p => p.Then is not null), p =>
        {
            Assert.InRange(p.Gap, 0, o.MaxGap);
            if (p.During && p.Fault.Kind is FaultKind.ApiFailure or FaultKind.ResyncReplica) Assert.True(p.Gap < p.Fault.Seconds, p.ToString());
        });
    }

    async Task<ChaosSummary> RunAsync(ChaosOptions options)
    {
        try
        {
            var summary = await ChaosRunner.RunAsync(options);
            Assert.True(summary.Violations.Count == 0, string.Join("\n\n", summary.Violations));
            Assert.Equal(0, summary.LostWrites);
            return summary;
        }
        catch (ChaosViolationException e)
        {
            Assert.Fail(e.Message); // names the invariant, the step, the seed, and the server/sidecar log tails
            throw;
        }
    }

    void Log(string line)
    {
        try { output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}"); }
        catch (InvalidOperationException) { } // a late line after the test finished
    }
}
