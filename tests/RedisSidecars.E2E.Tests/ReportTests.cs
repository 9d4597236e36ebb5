using RedisSidecars.E2E.Analysis;

namespace RedisSidecars.E2E.Tests;

public class ReportTests
{
    [Fact]
    public void Summary_FailedCheck_FailsTheRun_MissedTargetDoesNot()
    {
        var output = new StringWriter();
        var report = new Report(output, () => TimeSpan.FromSeconds(1.5));
        report.Check("one master labelled", true, "redis-0");
        report.Target(new TargetResult("longest write gap", "2.5 s", "≤ 2 s", false));
        Assert.False(report.Failed);
        Assert.StartsWith("e2e: PASS — checks 1/1 passed; targets 0/1 met (missed: longest write gap); namespace x deleted", report.Summary("namespace x deleted"), StringComparison.Ordinal);

        report.Check("step 3: no acknowledged write lost", false, "3 lost");
        Assert.True(report.Failed);
        Assert.Contains("e2e: FAIL — checks 1/2 passed (failed: step 3: no acknowledged write lost)", report.Summary("kept"), StringComparison.Ordinal);
        Assert.Contains("FAIL  step 3: no acknowledged write lost: 3 lost", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("does not fail the run", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Summary_NotApplicableTargets_AreNotCounted()
    {
        var report = new Report(TextWriter.Null, () => TimeSpan.Zero);
        report.Target(new TargetResult("handovers", "2", "exactly 1", null));
        report.Target(new TargetResult("gap", "1 s", "≤ 2 s", true));
        Assert.Contains("targets 1/1 met", report.Summary(""), StringComparison.Ordinal);
    }
}
