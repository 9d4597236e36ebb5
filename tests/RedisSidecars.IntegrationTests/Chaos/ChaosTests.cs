using RedisSidecars.Testing.Chaos;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.Chaos;

/// <summary>
/// The short chaos run for CI: one step of every fault kind (the order and the parameters come from the seed)
/// against 3 Redis + 3 Sentinels + 3 published sidecars while a pooled WAIT-1 client writes, with every invariant
/// checked after every step. Replay or lengthen with CHAOS_SEED=… CHAOS_STEPS=…; long runs go through the
/// benchmark harness (<see cref="ChaosRunner.RunAsync(ChaosOptions, CancellationToken)"/>).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    const int CiSeed = 20261122;

    [Fact]
    public async Task EveryFaultKind_InvariantsHoldAfterEveryStep()
    {
        var options = ChaosOptions.FromEnvironment(new ChaosOptions
        {
            Seed = CiSeed,
            Steps = Enum.GetValues<FaultKind>().Length,
            Log = Log,
        });
        output.WriteLine($"seed {options.Seed}, {options.Steps} steps (replay: CHAOS_SEED={options.Seed} CHAOS_STEPS={options.Steps})");

        ChaosSummary summary;
        try { summary = await ChaosRunner.RunAsync(options); }
        catch (ChaosViolationException e)
        {
            Assert.Fail(e.Message); // names the invariant, the step, the seed, and the server/sidecar log tails
            throw;
        }

        Assert.True(summary.Violations.Count == 0, string.Join("\n\n", summary.Violations));
        Assert.Equal(options.Steps, summary.StepsRun);
        if (options.Faults is null && options.Steps >= Enum.GetValues<FaultKind>().Length)
            Assert.All(Enum.GetValues<FaultKind>(), k => Assert.True(summary.Faults.GetValueOrDefault(k) > 0, $"{k} never ran"));
        Assert.Equal(0, summary.LostWrites);
        Assert.True(summary.AckedWrites > 1000, $"only {summary.AckedWrites} acknowledged writes");
    }

    void Log(string line)
    {
        try { output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}"); }
        catch (InvalidOperationException) { } // a late line after the test finished
    }
}
