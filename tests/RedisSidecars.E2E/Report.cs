using RedisSidecars.E2E.Analysis;

namespace RedisSidecars.E2E;

/// <summary>
/// What the suite prints: each step's title, what it sees, checks (functional: a failure fails the run) and targets
/// (measured against the issue's numbers: PASS/FAIL printed, never failing the run), then one summary line.
/// </summary>
public sealed class Report(TextWriter output, Func<TimeSpan> clock)
{
    readonly List<(string Name, bool Ok)> checks = [];
    readonly List<TargetResult> targets = [];

    public IReadOnlyList<(string Name, bool Ok)> Checks => checks;
    public IReadOnlyList<TargetResult> TargetResults => targets;
    public bool Failed => checks.Any(c => !c.Ok);

    string Stamp => $"[{clock().TotalSeconds.ToString("0000.0", System.Globalization.CultureInfo.InvariantCulture)}s]";

    public void Step(string title)
    {
        output.WriteLine();
        output.WriteLine($"{Stamp} == {title}");
    }

    public void Info(string line) => output.WriteLine($"{Stamp}    {line}");

    /// <summary>A functional check: FAIL fails the run.</summary>
    public bool Check(string name, bool ok, string detail)
    {
        checks.Add((name, ok));
        output.WriteLine($"{Stamp}    {(ok ? "PASS" : "FAIL")}  {name}: {detail}");
        return ok;
    }

    public void Target(TargetResult t)
    {
        targets.Add(t);
        var verdict = t.Met switch { true => "PASS", false => "FAIL", null => "n/a " };
        output.WriteLine($"{Stamp}    {verdict}  target: {t.Name}: {t.Measured} (target {t.Target}; does not fail the run)");
    }

    /// <summary>The last line: verdict, counts, and the checks that failed.</summary>
    public string Summary(string cleanup)
    {
        var failed = checks.Where(c => !c.Ok).Select(c => c.Name).ToArray();
        var met = targets.Count(t => t.Met == true);
        var missed = targets.Where(t => t.Met == false).Select(t => t.Name).ToArray();
        return $"e2e: {(failed.Length == 0 ? "PASS" : "FAIL")} — checks {checks.Count - failed.Length}/{checks.Count} passed"
               + (failed.Length > 0 ? $" (failed: {string.Join("; ", failed)})" : "")
               + $"; targets {met}/{targets.Count(t => t.Met is not null)} met"
               + (missed.Length > 0 ? $" (missed: {string.Join("; ", missed.Distinct())})" : "")
               + $"; {cleanup}";
    }
}
