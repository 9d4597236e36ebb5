using RedisSidecars.Bench;
using RedisSidecars.Testing;

// dotnet run --project bench/RedisSidecars.Bench -c Release -- [--quick] [--only init|failover|handover|unplanned] [--out FILE]
//   --only chaos [--chaos-steps 200] [--chaos-out FILE]: the long chaos run (seeded faults alone and in compound
//   sequences, invariants after every step; CHAOS_SEED / CHAOS_FAULTS / CHAOS_COMPOUND / CHAOS_MAX_GAP_S /
//   CHAOS_DOWN_AFTER_MS apply); violations are collected, not fatal; its tables go to bench/results/chaos-long.md.
var quick = args.Contains("--quick");
var only = Arg("--only");
var counts = quick
    ? new Counts(Init: 5, Failovers: 2, Handovers: 1, Unplanned: 1, Idle: TimeSpan.FromSeconds(5))
    : new Counts(Init: 50, Failovers: int.Parse(Arg("--failovers") ?? "30", System.Globalization.CultureInfo.InvariantCulture), Handovers: 5, Unplanned: 5,
        Idle: TimeSpan.FromSeconds(int.Parse(Arg("--idle-seconds") ?? "300", System.Globalization.CultureInfo.InvariantCulture)));
var output = Arg("--out") ?? Path.Combine(Tools.RepoRoot, "bench", "results", quick ? "quick.md" : "latest.md");

var report = new Report();
try
{
    if (only is null or "init") await Benches.InitAsync(report, counts);
    if (only is null or "failover") await Benches.FailoversAsync(report, counts);
    if (only is null or "handover") await Benches.HandoverAsync(report, counts);
    if (only is null or "unplanned") await Benches.UnplannedAsync(report, counts);
    if (only is null or "partition") await PartitionBench.RunAsync(report, quick, output);
    if (only is "chaos")
        await Benches.ChaosAsync(report, int.Parse(Arg("--chaos-steps") ?? "200", System.Globalization.CultureInfo.InvariantCulture),
            Arg("--chaos-out") ?? Path.Combine(Tools.RepoRoot, "bench", "results", "chaos-long.md"));
}
finally
{
    ProcessRegistry.KillAll();
}

var header = $"# RedisSidecars benchmark ({(quick ? "quick" : "full")} run, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)\n\n"
    + $"Machine: {Environment.ProcessorCount} cores; Redis/Sentinel from {Tools.RedisServer}; real processes on loopback addresses.";
var table = report.Render(header);
Console.WriteLine();
Console.WriteLine(table);
if (only is not "chaos" || Arg("--out") is not null) // the chaos run writes its own tables (--chaos-out)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    File.WriteAllText(output, table);
    Console.WriteLine($"written to {output}");
}
return 0;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
