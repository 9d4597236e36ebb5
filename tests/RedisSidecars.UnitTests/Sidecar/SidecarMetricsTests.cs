using System.Globalization;
using System.Text.RegularExpressions;
using RedisSidecars.Sidecar.Hosting;
using Xunit;

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

    [Fact]
    public void Render_Fresh_EveryFamilyHasHelpAndTypeBeforeItsSamples()
    {
        var lines = Lines(new SidecarMetrics());
        var families = new Dictionary<string, string>
        {
            ["redis_sidecar_role"] = "gauge",
            ["redis_sidecar_ready"] = "gauge",
            ["redis_sidecar_sentinels_reachable"] = "gauge",
            ["redis_sidecar_sentinels_configured"] = "gauge",
            ["redis_sidecar_label_patches_total"] = "counter",
            ["redis_sidecar_failovers_observed_total"] = "counter",
            ["redis_sidecar_api_errors_total"] = "counter",
            ["redis_sidecar_handovers_total"] = "counter",
            [Histogram] = "histogram",
        };

        foreach (var (name, type) in families)
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
        var m = new SidecarMetrics { Role = 2, Ready = true, SentinelsReachable = 2, SentinelsConfigured = 3 };
        m.LabelPatches.Increment();
        m.LabelPatches.Increment();
        m.FailoversObserved.Increment();
        m.Handovers.Increment();
        for (var i = 0; i < 5; i++) m.ApiErrors.Increment();

        Assert.Equal(2, Value(m, "redis_sidecar_role"));
        Assert.Equal(1, Value(m, "redis_sidecar_ready"));
        Assert.Equal(2, Value(m, "redis_sidecar_sentinels_reachable"));
        Assert.Equal(3, Value(m, "redis_sidecar_sentinels_configured"));
        Assert.Equal(2, Value(m, "redis_sidecar_label_patches_total"));
        Assert.Equal(1, Value(m, "redis_sidecar_failovers_observed_total"));
        Assert.Equal(5, Value(m, "redis_sidecar_api_errors_total"));
        Assert.Equal(1, Value(m, "redis_sidecar_handovers_total"));

        m.Ready = false;
        Assert.Equal(0, Value(m, "redis_sidecar_ready"));
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
