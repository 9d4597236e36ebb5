using System.Globalization;
using System.Text.RegularExpressions;
using RedisSidecars.Core.Roles;
using RedisSidecars.ManifestTests.Infrastructure;
using RedisSidecars.Sidecar.Hosting;
using Xunit;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.UnitTests.Sidecar;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class SidecarMetricsTests
{
    const string Histogram = "redis_sidecar_event_to_label_seconds";

    static string[] Lines(SidecarMetrics m) => m.Render().Split('\n');

    static double Value(SidecarMetrics m, string series) =>
        double.Parse(Lines(m).Single(l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..], CultureInfo.InvariantCulture);

    static (string Le, long Count)[] Buckets(SidecarMetrics m) => Lines(m)
        .Select(l => BucketLine().Match(l)).Where(x => x.Success)
        .Select(x => (x.Groups[1].Value, long.Parse(x.Groups[2].Value, CultureInfo.InvariantCulture))).ToArray();

    [GeneratedRegex("^redis_sidecar_event_to_label_seconds_bucket\\{le=\"([^\"]+)\"\\} (\\d+)$")]
    private static partial Regex BucketLine();

    static Dictionary<string, string> Families(SidecarMetrics m) => Lines(m)
        .Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal))
        .Select(l => l.Split(' '))
        .ToDictionary(p => p[2], p => p[3], StringComparer.Ordinal);

    [Fact]
    public void Render_Fresh_EveryContractMetricExportedWithItsType()
    {
        var families = Families(new SidecarMetrics());

        foreach (var (name, type) in SidecarMetricsContract.Metrics)
        {
            Assert.True(families.TryGetValue(name, out var exported), $"{name} is in the contract but not exported");
            Assert.True(type == exported, $"{name}: contract says {type}, exported as {exported}");
        }
    }

    [Fact]
    public void Render_Fresh_EverySidecarMetricIsInTheContract()
    {
        var own = Families(new SidecarMetrics()).Keys.Where(n => !SidecarMetricsContract.IsShared(n));

        Assert.All(own, name => Assert.True(SidecarMetricsContract.Metrics.ContainsKey(name), $"{name} is exported but not in the contract (alerts and dashboards cannot rely on it)"));
    }

    [Fact]
    public void Render_Fresh_EverySeriesIsContractOrShared()
    {
        var series = Lines(new SidecarMetrics()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(' ', '{')[0]).Distinct();

        Assert.All(series, s => Assert.True(SidecarMetricsContract.Exports(s) || SidecarMetricsContract.IsShared(s), s));
    }

    [Fact]
    public void Render_Fresh_EveryHandoverOutcomeSeriesAtZero()
    {
        var m = new SidecarMetrics();

        foreach (var outcome in SidecarMetricsContract.HandoverOutcomes)
            Assert.Equal(0, Value(m, $"redis_sidecar_handovers_total{{outcome=\"{outcome}\"}}"));
        Assert.Equal(SidecarMetricsContract.HandoverOutcomes.Order(), Enum.GetNames<HandoverOutcome>().Order());
    }

    [Fact]
    public void Render_Fresh_EveryFamilyHasHelpAndTypeBeforeItsSamples()
    {
        var lines = Lines(new SidecarMetrics());

        foreach (var (name, type) in Families(new SidecarMetrics()))
        {
            var help = Array.FindIndex(lines, l => l.StartsWith($"# HELP {name} ", StringComparison.Ordinal));
            var typeLine = Array.IndexOf(lines, $"# TYPE {name} {type}");
            var firstSample = Array.FindIndex(lines, l => l.StartsWith(name, StringComparison.Ordinal));
            Assert.True(help >= 0, $"no HELP for {name}");
            Assert.True(typeLine == help + 1, $"TYPE for {name} must follow its HELP");
            Assert.True(firstSample > typeLine, $"samples of {name} must follow its TYPE");
        }
    }

    [Fact]
    public void Render_Fresh_WellFormedLinesEndingInNewline()
    {
        var text = new SidecarMetrics().Render();

        Assert.EndsWith("\n", text);
        Assert.DoesNotContain("\r", text);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
            Assert.True(line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal)
                || SampleLine().IsMatch(line), $"not a valid exposition line: '{line}'");
    }

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"\\})? [-+0-9.eE]+(Inf)?$")]
    private static partial Regex SampleLine();

    [Fact]
    public void Render_GaugesAndCounters_CurrentValues()
    {
        var m = new SidecarMetrics { Role = 2, Ready = true, SentinelsReachable = 2, SentinelsConfigured = 3, SentinelMajorityLost = true, HandoverWritesPaused = true };
        m.LabelPatches.Increment();
        m.LabelPatches.Increment();
        m.FailoversObserved.Increment();
        m.Handovers(HandoverOutcome.FailoverPending).Increment();
        m.Handovers(HandoverOutcome.HandedOver).Increment();
        m.Handovers(HandoverOutcome.HandedOver).Increment();
        for (var i = 0; i < 5; i++) m.ApiErrors.Increment();

        Assert.Equal(2, Value(m, "redis_sidecar_role"));
        Assert.Equal(1, Value(m, "redis_sidecar_ready"));
        Assert.Equal(2, Value(m, "redis_sidecar_sentinels_reachable"));
        Assert.Equal(3, Value(m, "redis_sidecar_sentinels_configured"));
        Assert.Equal(1, Value(m, "redis_sidecar_sentinel_majority_lost"));
        Assert.Equal(1, Value(m, "redis_sidecar_handover_writes_paused"));
        Assert.Equal(2, Value(m, "redis_sidecar_label_patches_total"));
        Assert.Equal(1, Value(m, "redis_sidecar_failovers_observed_total"));
        Assert.Equal(5, Value(m, "redis_sidecar_api_errors_total"));
        Assert.Equal(2, Value(m, "redis_sidecar_handovers_total{outcome=\"HandedOver\"}"));
        Assert.Equal(1, Value(m, "redis_sidecar_handovers_total{outcome=\"FailoverPending\"}"));
        Assert.Equal(0, Value(m, "redis_sidecar_handovers_total{outcome=\"NotMaster\"}"));

        m.Ready = false;
        m.SentinelMajorityLost = false;
        Assert.Equal(0, Value(m, "redis_sidecar_ready"));
        Assert.Equal(0, Value(m, "redis_sidecar_sentinel_majority_lost"));
    }

    [Fact]
    public void Render_ProcessMetrics_Positive()
    {
        var m = new SidecarMetrics();

        Assert.True(Value(m, "process_resident_memory_bytes") > 0);
        Assert.True(Value(m, "dotnet_gc_heap_size_bytes") >= 0);
    }

    [Fact]
    public void Render_Fresh_HistogramAllZero()
    {
        var m = new SidecarMetrics();

        Assert.All(Buckets(m), b => Assert.Equal(0, b.Count));
        Assert.Equal("+Inf", Buckets(m)[^1].Le);
        Assert.Equal(0, Value(m, Histogram + "_sum"));
        Assert.Equal(0, Value(m, Histogram + "_count"));
    }

    [Fact]
    public void ObserveEventToLabel_SeveralObservations_BucketsCumulativeInfEqualsCountSum()
    {
        var m = new SidecarMetrics();
        double[] seconds = [0.003, 0.02, 0.02, 0.3, 1.0, 7, 42];
        foreach (var s in seconds) m.ObserveEventToLabel(TimeSpan.FromSeconds(s));

        var buckets = Buckets(m);
        Assert.Equal(12, buckets.Length);
        for (var i = 1; i < buckets.Length; i++)
            Assert.True(buckets[i].Count >= buckets[i - 1].Count, $"bucket le={buckets[i].Le} is below le={buckets[i - 1].Le}: not cumulative");
        for (var i = 1; i < buckets.Length - 1; i++)
            Assert.True(double.Parse(buckets[i].Le, CultureInfo.InvariantCulture) > double.Parse(buckets[i - 1].Le, CultureInfo.InvariantCulture));
        foreach (var (le, count) in buckets.SkipLast(1))
        {
            var bound = double.Parse(le, CultureInfo.InvariantCulture);
            Assert.True(seconds.Count(s => s <= bound) == count, $"le={le}: expected {seconds.Count(s => s <= bound)}, got {count}");
        }
        Assert.Equal("+Inf", buckets[^1].Le);
        Assert.Equal(seconds.Length, buckets[^1].Count);
        Assert.Equal(seconds.Length, Value(m, Histogram + "_count"));
        Assert.Equal(seconds.Sum(), Value(m, Histogram + "_sum"), 9);
    }

    [Fact]
    public void ObserveEventToLabel_ExactlyOnABound_CountedInThatBucket()
    {
        var m = new SidecarMetrics();

        m.ObserveEventToLabel(TimeSpan.FromMilliseconds(100));

        var buckets = Buckets(m).ToDictionary(b => b.Le, b => b.Count);
        Assert.Equal(0, buckets["0.05"]);
        Assert.Equal(1, buckets["0.1"]);
    }

    [Fact]
    public void ObserveEventToLabel_ConcurrentObservations_NoneLost()
    {
        var m = new SidecarMetrics();

        Parallel.For(0, 1000, _ => m.ObserveEventToLabel(TimeSpan.FromMilliseconds(10)));

        Assert.Equal(1000, Value(m, Histogram + "_count"));
        Assert.Equal(1000, Buckets(m).Single(b => b.Le == "0.01").Count);
    }
}
