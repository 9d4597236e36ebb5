using System.Diagnostics;
using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

public static class Benches
{
    /// <summary>redis-init for a replica with 3 Sentinels up, against the seed-003 shell init; nothing reachable; sizes.</summary>
    public static async Task InitAsync(Report report, Counts n)
    {
        const string S = "redis-init";
        await using var set = new RedisSet();
        await set.StartAllAsync();
        var node = set.Redis[1];
        var outA = Path.Combine(set.Root, "bench-a.conf");
        var outB = Path.Combine(set.Root, "bench-b.conf");
        var baseline = Path.Combine(Tools.RepoRoot, "bench", "baseline-init.sh");
        var ours = new List<double>();
        var theirs = new List<double>();
        for (var i = 0; i < n.Init; i++)
        {
            var sw = Stopwatch.StartNew();
            var (code, stdout, stderr) = await Tools.RunAsync(Tools.RedisInit, ["redis", "--template", node.TemplatePath, "--output", outA], set.EnvFor(node), TimeSpan.FromSeconds(30));
            ours.Add(sw.Elapsed.TotalMilliseconds);
            if (code != 0 || !stdout.Contains("source=sentinels agree=3/3", StringComparison.Ordinal)) throw new InvalidOperationException($"redis-init: {code} {stdout} {stderr}");
            sw.Restart();
            var env = new Dictionary<string, string>
            {
                ["SENTINEL_HOST"] = set.Sentinels[0].Ip, ["SENTINEL_PORT"] = "26379", ["POD_NAME"] = node.Name,
                ["MASTER0_HOST"] = set.Redis[0].Ip, ["TEMPLATE"] = node.TemplatePath, ["OUTPUT"] = outB,
            };
            var b = await Tools.RunAsync("/bin/sh", [baseline], env, TimeSpan.FromSeconds(30));
            theirs.Add(sw.Elapsed.TotalMilliseconds);
            if (b.Code != 0) throw new InvalidOperationException($"baseline: {b.Code} {b.Stderr}");
        }
        var ratio = Stats.Percentile(ours, 50) / Stats.Percentile(theirs, 50);
        report.Add(S, "replica config, 3 Sentinels up: redis-init", $"median {Stats.Ms(Stats.Percentile(ours, 50))}, p95 {Stats.Ms(Stats.Percentile(ours, 95))}", $"n={n.Init}; asks all 3 Sentinels, needs 2/3 agreement");
        report.Add(S, "same, seed-003 sh + redis-cli init", $"median {Stats.Ms(Stats.Percentile(theirs, 50))}, p95 {Stats.Ms(Stats.Percentile(theirs, 95))}", "asks one Sentinel, first answer wins");
        report.Add(S, "ratio redis-init / shell (median)", ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×", ratio < 0.95 ? "redis-init is faster" : ratio > 1.05 ? "redis-init is slower" : "about the same");

        await using var dark = new RedisSet();
        var darkTimes = new List<double>();
        for (var i = 0; i < Math.Max(3, n.Init / 2); i++)
        {
            var sw = Stopwatch.StartNew();
            var r = await dark.InitAsync(dark.Redis[1]);
            darkTimes.Add(sw.Elapsed.TotalMilliseconds);
            if (r.Code != 0 || !r.Stdout.Contains("reason=nothing-reachable", StringComparison.Ordinal)) throw new InvalidOperationException(r.Stdout + r.Stderr);
        }
        report.Add(S, "nothing reachable (falls back to pod-0)", $"median {Stats.Ms(Stats.Percentile(darkTimes, 50))}, p95 {Stats.Ms(Stats.Percentile(darkTimes, 95))}", "connection refused on loopback; DNS names that do not resolve fail as fast");
        report.Add(S, "binary size redis-init", $"{new FileInfo(Tools.RedisInit).Length / 1048576.0:0.0} MB", "Native AOT, stripped");
    }

    /// <summary>
    /// The long chaos run: every fault kind and compound pair many times, all invariants after every step, violations
    /// collected. Writes the run's tables (steps by kind and pair, checks by invariant, acknowledged writes, lost,
    /// two-masters instants) and its step log to <paramref name="output"/>; the report gets the headline numbers.
    /// </summary>
    public static async Task ChaosAsync(Report report, int steps, string output)
    {
        const string S = "chaos";
        var options = Testing.Chaos.ChaosOptions.FromEnvironment(new Testing.Chaos.ChaosOptions
        {
            Seed = Environment.TickCount & 0x7fffffff,
            Steps = steps,
            StopOnFirstViolation = false,
        });
        Console.WriteLine($"chaos seed {options.Seed} (replay: {Testing.Chaos.ChaosOptions.SeedVariable}={options.Seed} {Testing.Chaos.ChaosOptions.StepsVariable}={options.Steps})");
        var summary = await Testing.Chaos.ChaosRunner.RunAsync(options);
        var md = new System.Text.StringBuilder();
        md.AppendLine($"# Chaos run ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)").AppendLine();
        md.AppendLine($"Command: `CHAOS_SEED={summary.Seed} dotnet run --project bench/RedisSidecars.Bench -c Release -- --only chaos --chaos-steps {summary.StepsPlanned}` ");
        md.AppendLine($"Machine: {Environment.ProcessorCount} cores; real redis-server/redis-sentinel, published sidecars, the API double with the kubelet's readiness prober; compound share {options.CompoundShare:0.##}, gaps 0–{options.MaxGap:0.#} s.").AppendLine();
        md.AppendLine("```").Append(summary.ToString().Split("\n\n")[0].TrimEnd()).AppendLine().AppendLine("```").AppendLine();
        md.AppendLine(string.Join("\n\n", summary.ToString().Split("\n\n").Skip(1)).TrimEnd()).AppendLine();
        if (summary.Violations.Count > 0)
        {
            md.AppendLine().AppendLine("## Violations").AppendLine();
            foreach (var v in summary.Violations) md.AppendLine($"- step {v.Step} ({v.Fault}): **{v.Invariant}**: {v.Message.Split('\n')[0]}");
        }
        md.AppendLine().AppendLine("## Steps").AppendLine().AppendLine("```");
        foreach (var r in summary.StepLog) md.AppendLine(r.ToString());
        md.AppendLine("```");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, md.ToString());
        Console.WriteLine($"chaos tables written to {output}");
        report.Add(S, "seed / steps / duration", $"{summary.Seed} / {summary.StepsRun} / {summary.Duration.TotalSeconds:0} s", $"replay: CHAOS_SEED={summary.Seed} CHAOS_STEPS={summary.StepsRun}");
        report.Add(S, "steps by kind", string.Join(", ", summary.Faults.Select(f => $"{f.Key} {f.Value}")), $"compound steps: {summary.Pairs.Values.Sum()}");
        report.Add(S, "invariant checks passed", summary.Checks.Values.Sum().ToString(CultureInfo.InvariantCulture), string.Join(", ", summary.Checks.Select(c => $"{c.Key} {c.Value}")));
        report.Add(S, "violations", summary.Violations.Count.ToString(CultureInfo.InvariantCulture), string.Join(" | ", summary.Violations.Select(v => $"step {v.Step} {v.Fault}: {v.Invariant}")));
        report.Add(S, "acknowledged writes / lost", $"{summary.AckedWrites} / {summary.LostWrites}", $"lost by Redis itself (promoted a lower-offset replica): {summary.LostByRedis}");
        report.Add(S, "two-masters instants / two-ready-endpoints instants", $"{summary.TwoMasterInstants} / {summary.TwoEndpointInstants}", "");
        report.Add(S, "sidecar crashes / /livez failures / unexpected failovers", $"{summary.SidecarCrashes} / {summary.LivezFailures} / {summary.UnexpectedFailovers}", "");
    }
}
