using System.Globalization;
using RedisSidecars.Bench;
using RedisSidecars.Testing;

const string Usage = """
    usage: dotnet run --project bench/RedisSidecars.Bench -c Release -- [--quick | --long] [--only SECTION] [--old-sidecar PATH] [--out FILE]
                      [--failovers N] [--handovers N] [--idle-seconds N] [--outage-seconds N] [--trace]
      default     50 inits, 30 failovers, 5 handovers, 5 kills, 3 min idle, 1 min API outage   (bench/results/latest.md)
      --quick     tiny counts, seconds not minutes: scripts/test.sh runs it                  (bench/results/quick.md)
      --long      the issue's durations: 1 h idle, 100 failovers, a 10-minute API outage    (bench/results/long.md)
      --only      init | sidecar (idle, failovers, outage) | handover | unplanned | partition | chaos
      --old-sidecar PATH   also run the sidecar, handover and unplanned sections against the pre-v2 sidecar
                           (publish commit 585329b, see README), one more column
      --trace     after each handover, forced failover and the API outage, a merged timeline on stderr (where the time goes)
      --only partition   a real partition of the master (iptables on loopback, root) with and without the fence
                          (also in the full run; bench/results/partition.md beside the output)
      --only chaos [--chaos-steps 200] [--chaos-out FILE]: the long chaos run (seeded faults alone and in compound
                  sequences, invariants after every step; CHAOS_SEED / CHAOS_FAULTS / CHAOS_COMPOUND / CHAOS_MAX_GAP_S /
                  CHAOS_DOWN_AFTER_MS apply); violations are collected, not fatal; tables to bench/results/chaos-long.md
    """;

if (args.Contains("--help") || args.Contains("-h")) { Console.WriteLine(Usage); return 0; }
var quick = args.Contains("--quick");
Trace.Enabled = args.Contains("--trace");
var longRun = args.Contains("--long");
var only = Arg("--only");
string[] sections = ["init", "sidecar", "failover", "handover", "unplanned", "partition", "chaos"];
if ((quick && longRun) || (only is not null && !sections.Contains(only)))
{
    Console.Error.WriteLine($"bench: {(quick && longRun ? "--quick and --long exclude each other" : $"unknown section '{only}'")}\n{Usage}");
    return 2;
}
var counts = quick ? Counts.Quick : longRun ? Counts.Long : Counts.Default;
counts = counts with
{
    Failovers = Int("--failovers") ?? counts.Failovers,
    Handovers = Int("--handovers") ?? counts.Handovers,
    Idle = Int("--idle-seconds") is { } idle ? TimeSpan.FromSeconds(idle) : counts.Idle,
    Outage = Int("--outage-seconds") is { } outage ? TimeSpan.FromSeconds(outage) : counts.Outage,
};
var output = Arg("--out") ?? Path.Combine(Tools.RepoRoot, "bench", "results", $"{(quick ? "quick" : longRun ? "long" : "latest")}.md");
List<Flavour> flavours = [Flavour.Current()];
if (Arg("--old-sidecar") is { } old) flavours.Add(Flavour.PreV2(old));
bool Runs(string section) => only is null ? section != "chaos" : only == section || (only == "failover" && section == "sidecar");

var started = DateTime.UtcNow;
var report = new Report();
var failed = 0;
try
{
    // A section that fails is one FAILED row (the rest still runs): a long run keeps what it measured.
    async Task SectionAsync(string name, string column, Func<Task> run)
    {
        try { await run(); }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException or StackExchange.Redis.RedisException or HttpRequestException)
        {
            failed++;
            report.Set(name, "FAILED", column, e.GetType().Name + ": " + e.Message.Split('\n')[0]);
            Console.Error.WriteLine(e);
            ProcessRegistry.KillAll();
        }
    }
    if (Runs("init")) await SectionAsync("redis-init", Report.Main, () => Benches.InitAsync(report, counts));
    foreach (var f in flavours) if (Runs("sidecar")) await SectionAsync("sidecar", f.Column, () => Lifecycle.RunAsync(report, counts, f));
    foreach (var f in flavours) if (Runs("handover")) await SectionAsync("handover", f.Column, () => Handovers.RunAsync(report, counts, f));
    foreach (var f in flavours) if (Runs("unplanned")) await SectionAsync("kill -9 master", f.Column, () => Unplanned.RunAsync(report, counts, f));
    if (Runs("partition")) await SectionAsync("partition", Report.Main, () => PartitionBench.RunAsync(report, quick, output));
    if (only is "chaos")
        await Benches.ChaosAsync(report, int.Parse(Arg("--chaos-steps") ?? "200", CultureInfo.InvariantCulture),
            Arg("--chaos-out") ?? Path.Combine(Tools.RepoRoot, "bench", "results", "chaos-long.md"));
}
finally
{
    ProcessRegistry.KillAll();
}

var header = $"# RedisSidecars benchmark ({counts.Mode} run{(only is null ? "" : ", --only " + only)}, {started:yyyy-MM-dd HH:mm} UTC, {Stats.Seconds(DateTime.UtcNow - started)})\n\n"
    + $"Machine: {Environment.ProcessorCount} cores; Redis/Sentinel from {Tools.RedisServer}; real processes on loopback addresses; "
    + "the Kubernetes API double with its default 4 ms latency per request.\n"
    + $"Command: `dotnet run --project bench/RedisSidecars.Bench -c Release -- {string.Join(' ', args)}`"
    + (flavours.Count > 1 ? $"\n\nColumns: {Report.Main} = {Tools.RedisSidecar.Replace(Tools.RepoRoot + "/", "", StringComparison.Ordinal)}; {flavours[1].Column} = {flavours[1].Binary} "
        + "(polls the API with get on pods, so it runs without the manifests' Role; /handover on HTTP_PORT). Goals are judged on this branch's column." : "");
var table = report.Render(header);
Console.WriteLine();
Console.WriteLine(table);
if (only is not "chaos" || Arg("--out") is not null) // the chaos run writes its own tables (--chaos-out)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    File.WriteAllText(output, table);
    Console.WriteLine($"written to {output}");
}
return failed == 0 ? 0 : 1;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int? Int(string name) => Arg(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : null;
