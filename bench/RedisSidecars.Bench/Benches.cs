using System.Diagnostics;
using System.Globalization;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

public sealed record LabelChangeSeen(DateTimeOffset WallTime);

public sealed record Counts(int Init, int Failovers, int Handovers, int Unplanned, TimeSpan Idle);

public static class Benches
{
    const string L = SidecarSet.Label, M = SidecarSet.Master;
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(40);

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
        report.Add("redis-sidecar", "binary size redis-sidecar", $"{new FileInfo(Tools.RedisSidecar).Length / 1048576.0:0.0} MB", "Native AOT, stripped");
    }

    /// <summary>Forced failovers: first +switch-master → new master labelled; never two masters; zero-master gaps; API writes; sidecar RSS/CPU.</summary>
    public static async Task FailoversAsync(Report report, Counts n)
    {
        const string S = "redis-sidecar";
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");

        // Idle: RSS and CPU of the three sidecars.
        var pids = Enumerable.Range(0, 3).Select(i => s.Sidecar(i)!.Id).ToArray();
        var cpu0 = pids.Select(CpuSeconds).ToArray();
        var wall = Stopwatch.StartNew();
        await Task.Delay(n.Idle);
        var idleCpu = pids.Select((p, i) => (CpuSeconds(p) - cpu0[i]) / wall.Elapsed.TotalSeconds * 100).ToArray();
        report.Add(S, $"RSS after {n.Idle.TotalSeconds:0} s idle", string.Join(", ", pids.Select(p => $"{RssMb(p):0.0} MB")), "per sidecar (master, replica, replica)");
        report.Add(S, $"CPU while idle ({n.Idle.TotalSeconds:0} s)", string.Join(", ", idleCpu.Select(c => $"{c:0.00}%")), $"of one core; polls 3 Sentinels + local Redis + own pod every {s.EnvFor(0)["RECONCILE_INTERVAL_MS"]} ms");

        await using var ev = await SentinelEvents.StartAsync(s.Set, "+switch-master");
        var writesBefore = s.Api.Requests.Count(r => r.IsWrite);
        var latencies = new List<double>();
        cpu0 = pids.Select(CpuSeconds).ToArray();
        wall.Restart();
        var retries = 0;
        for (var i = 0; i < n.Failovers; i++)
        {
            var before = (await s.Set.WaitForSettledAsync(Settle)).Address;
            DateTimeOffset tEvent;
            while (true)
            {
                ev.Reset();
                await s.Set.WaitUntilAsync(async () => (await s.Set.TryExecAsync(s.Set.Sentinels[i % 3], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString() == "OK",
                    Settle, "Sentinel accepts FAILOVER (needs a good replica)");
                try { tEvent = await ev.WaitAsync("+switch-master", TimeSpan.FromSeconds(20)); break; }
                catch (TimeoutException) when (retries < 5)
                {
                    retries++; // Sentinel aborted that failover (e.g. the chosen replica did not confirm its promotion): ask again
                    await s.Set.WaitForSettledAsync(Settle);
                }
            }
            await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != before, Settle, "Sentinels agree");
            var newNode = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
            LabelChangeSeen change;
            try
            {
                var c0 = await s.Api.Timeline.WaitForAsync(c => c.Pod == newNode.Name && c.Key == L && c.NewValue == M && c.WallTime >= tEvent.AddSeconds(-1), Settle);
                change = new LabelChangeSeen(c0.WallTime);
            }
            catch (TimeoutException)
            {
                var exits = string.Join(", ", Enumerable.Range(0, 3).Select(k => $"sidecar {k}: {(s.Sidecar(k)!.HasExited ? "exited " + s.Sidecar(k)!.ExitCode : "running")}"));
                throw new TimeoutException($"failover {i}: {newNode.Name} not labelled master within {Settle.TotalSeconds:0}s of +switch-master at {tEvent:O}; {exits}\n{s.Diagnostics()}\n{s.Set.Diagnostics()}");
            }
            latencies.Add((change.WallTime - tEvent).TotalMilliseconds);
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, $"labels after failover {i}");
        }
        var failoverCpu = pids.Select((p, i) => (CpuSeconds(p) - cpu0[i]) / wall.Elapsed.TotalSeconds * 100).ToArray();
        var writes = s.Api.Requests.Count(r => r.IsWrite) - writesBefore;
        var zero = s.Api.Timeline.IntervalsWithout(L, M).Where(x => x.Duration is not null).Select(x => x.Duration!.Value.TotalMilliseconds).ToArray();

        report.Add(S, $"first +switch-master → new master labelled ({n.Failovers} forced failovers)", Stats.Dist(latencies), "listens to every Sentinel, acts on the first newer-epoch event; waits for the old pod to drop the label");
        report.Add(S, "longest instant with two pods labelled master", s.Api.Timeline.MaxConcurrent(L, M) <= 1 ? "0 ms (never)" : "VIOLATED", $"max concurrent master labels: {s.Api.Timeline.MaxConcurrent(L, M)}");
        report.Add(S, "longest instant with no pod labelled master", zero.Length == 0 ? "0 ms" : Stats.Ms(zero.Max()), $"over {zero.Length} handoffs; median {Stats.Ms(Stats.Percentile(zero, 50))}");
        report.Add(S, "forced failovers Sentinel aborted and the bench asked again", retries.ToString(CultureInfo.InvariantCulture), "Sentinel's own behaviour, not the sidecar's");
        report.Add(S, "Kubernetes API writes per failover", ((double)writes / n.Failovers).ToString("0.0", CultureInfo.InvariantCulture), "label patches + status patches + events, all three sidecars");
        report.Add(S, "RSS after the failovers", string.Join(", ", pids.Select(p => $"{RssMb(p):0.0} MB")), "");
        report.Add(S, "CPU during the failovers", string.Join(", ", failoverCpu.Select(c => $"{c:0.0}%")), $"{wall.Elapsed.TotalSeconds:0} s of back-to-back failovers");
    }

    /// <summary>Planned handover vs a plain SENTINEL FAILOVER, with a pooled WAIT-1 client writing every millisecond.</summary>
    public static async Task HandoverAsync(Report report, Counts n)
    {
        const string S = "handover";
        foreach (var planned in new[] { true, false })
        {
            await using var s = await SidecarSet.StartAsync();
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
            var gaps = new List<double>();
            var lost = new List<int>();
            var acked = 0;
            for (var round = 0; round < n.Handovers; round++)
            {
                await s.Set.WaitForSettledAsync(Settle);
                await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels before the round");
                var master = s.Set.Redis[s.MasterLabelled().Single()];
                await s.Set.TryExecAsync(master, "FLUSHALL");
                await using var writer = new AckedWriter(() => s.MasterLabelled() is [var i] ? s.Set.Redis[i] : null, s.Set);
                writer.Start();
                await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 300), Settle, "writer running");
                if (planned)
                {
                    var (code, body) = await s.HandoverAsync(master.Ordinal);
                    if (code != 200 || !body.StartsWith("HandedOver", StringComparison.Ordinal)) throw new InvalidOperationException(body);
                }
                else
                {
                    await s.Set.WaitUntilAsync(async () => (await s.Set.TryExecAsync(s.Set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString() == "OK", Settle, "FAILOVER accepted");
                    await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != master.Address, Settle, "failover done");
                }
                await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels after the switch");
                var newMaster = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
                var count = writer.Acked.Count;
                await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > count + 300), Settle, "writer continues");
                await writer.DisposeAsync();
                await s.Set.WaitUntilAsync(async () => await s.Set.OnlineReplicasAsync(newMaster) == 2, Settle, "replicas resynced");
                lost.Add((await writer.LostOnAsync(newMaster)).Count);
                gaps.Add(writer.LongestGap().TotalMilliseconds);
                acked += writer.Acked.Count;
            }
            var name = planned ? "redis-sidecar handover (POST /handover)" : "baseline: plain SENTINEL FAILOVER";
            report.Add(S, $"{name}: acknowledged writes lost", $"{lost.Sum()} of {acked}", $"{n.Handovers} round(s); per round: {string.Join(",", lost)}");
            report.Add(S, $"{name}: write gap", Stats.Dist(gaps), "longest pause between two acknowledged writes");
            if (planned && s.Api.Timeline.MaxConcurrent(L, M) > 1) report.Add(S, "two masters labelled", "VIOLATED", "");
        }
    }

    /// <summary>kill -9 of the master: the write gap and its parts (down-after, election, labelling).</summary>
    public static async Task UnplannedAsync(Report report, Counts n)
    {
        const string S = "kill -9 master";
        await using var s = await SidecarSet.StartAsync();
        await s.WaitForLabelsToMatchSentinelsAsync(Settle, "initial labels");
        await using var ev = await SentinelEvents.StartAsync(s.Set, "+sdown", "+odown", "+switch-master");
        var down = new List<double>(); var elect = new List<double>(); var label = new List<double>(); var gaps = new List<double>();
        for (var round = 0; round < n.Unplanned; round++)
        {
            await s.Set.WaitForSettledAsync(Settle);
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels before the round");
            var master = s.Set.Redis[s.MasterLabelled().Single()];
            await using var writer = new AckedWriter(() => s.MasterLabelled() is [var i] ? s.Set.Redis[i] : null, s.Set);
            writer.Start();
            await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > 300), Settle, "writer running");
            ev.Reset();
            var tKill = DateTimeOffset.UtcNow;
            s.Set.Kill(master);
            var tDown = await ev.WaitAsync("+odown", Settle);
            var tSwitch = await ev.WaitAsync("+switch-master", Settle);
            await s.Set.WaitUntilAsync(async () => await s.Set.AgreedMasterAsync() is { } m && m != master.Address, Settle, "Sentinels agree");
            var newNode = s.Set.NodeAt((await s.Set.AgreedMasterAsync())!);
            var change = await s.Api.Timeline.WaitForAsync(c => c.Pod == newNode.Name && c.Key == L && c.NewValue == M && c.WallTime >= tKill, Settle);
            var count = writer.Acked.Count;
            await s.Set.WaitUntilAsync(() => Task.FromResult(writer.Acked.Count > count + 300), Settle, "writer continues");
            await writer.DisposeAsync();
            down.Add((tDown - tKill).TotalMilliseconds);
            elect.Add((tSwitch - tDown).TotalMilliseconds);
            label.Add((change.WallTime - tSwitch).TotalMilliseconds);
            gaps.Add(writer.LongestGap().TotalMilliseconds);
            await s.Set.StartAsync(master); // back as a replica, through redis-init
            await s.Set.WaitUntilAsync(async () => await s.Set.OnlineReplicasAsync(newNode) == 2, Settle, "old master resynced");
            await s.WaitForLabelsToMatchSentinelsAsync(Settle, "labels settled");
        }
        var downAfter = s.Set.EnvFor(s.Set.Sentinels[0])["SENTINEL_DOWN_AFTER_MS"];
        report.Add(S, "write gap (client's longest pause)", Stats.Dist(gaps), $"{n.Unplanned} round(s); SENTINEL_DOWN_AFTER_MS={downAfter} here (default 5000)");
        report.Add(S, "kill → +odown (down-after + quorum)", Stats.Dist(down), "");
        report.Add(S, "+odown → first +switch-master (election, promotion)", Stats.Dist(elect), "");
        report.Add(S, "+switch-master → new master labelled", Stats.Dist(label), "");
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

    static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    static double RssMb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
