using System.Globalization;
using System.Text;

namespace RedisSidecars.Bench;

/// <summary>The benchmark's result: sections of (metric, value, note) rows, rendered as a Markdown table.</summary>
public sealed class Report
{
    readonly List<(string Section, string Metric, string Value, string Note)> rows = [];

    public void Add(string section, string metric, string value, string note = "")
    {
        lock (rows) rows.Add((section, metric, value, note));
        Console.WriteLine($"  {section} | {metric} | {value} | {note}");
    }

    public string Render(string header)
    {
        var sb = new StringBuilder();
        sb.AppendLine(header).AppendLine();
        sb.AppendLine("| section | metric | value | note |");
        sb.AppendLine("| --- | --- | --- | --- |");
        foreach (var r in rows) sb.AppendLine($"| {r.Section} | {r.Metric} | {r.Value} | {r.Note} |");
        return sb.ToString();
    }
}

public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static string Ms(double ms) => double.IsNaN(ms) ? "n/a" : ms.ToString(ms < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " ms";

    public static string Dist(IReadOnlyList<double> ms) =>
        $"p50 {Ms(Percentile(ms, 50))}, p95 {Ms(Percentile(ms, 95))}, p99 {Ms(Percentile(ms, 99))}, max {Ms(ms.Count == 0 ? double.NaN : ms.Max())}";
}
