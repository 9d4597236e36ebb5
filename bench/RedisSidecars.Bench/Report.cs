using System.Globalization;
using System.Text;

namespace RedisSidecars.Bench;

/// <summary>A goal from the issue, and whether this branch's sidecar met it in this run.</summary>
public sealed record Goal(string Text, bool Met)
{
    public override string ToString() => $"{Text} {(Met ? "✓ met" : "✗ missed")}";
}

/// <summary>
/// The benchmark's result: rows of (section, metric) with one value per column — this branch's sidecar and, with
/// <c>--old-sidecar</c>, the pre-v2 one — a goal (judged on this branch's value) and a note, rendered as a Markdown table.
/// A metric measured for both sidecars is one row with two values.
/// </summary>
public sealed class Report
{
    /// <summary>The column of this branch's sidecar (and of every row that is not per sidecar).</summary>
    public const string Main = "this branch";

    sealed class Row(string section, string metric)
    {
        public string Section { get; } = section;
        public string Metric { get; } = metric;
        public Dictionary<string, string> Values { get; } = [];
        public List<string> Notes { get; } = [];
        public Goal? Goal { get; set; }
    }

    readonly List<Row> rows = [];
    readonly List<string> columns = [Main];

    public void Add(string section, string metric, string value, string note = "") => Set(section, metric, Main, value, note);

    /// <summary>Sets <paramref name="column"/>'s value of the row (created on first use); a goal counts for <see cref="Main"/> only.</summary>
    public void Set(string section, string metric, string column, string value, string note = "", Goal? goal = null)
    {
        lock (rows)
        {
            var row = rows.FirstOrDefault(r => r.Section == section && r.Metric == metric);
            if (row is null) rows.Add(row = new Row(section, metric));
            row.Values[column] = value;
            if (note.Length > 0 && !row.Notes.Any(n => n == note || n.EndsWith(": " + note, StringComparison.Ordinal)))
                row.Notes.Add(column == Main ? note : $"{column}: {note}");
            if (column == Main && goal is not null) row.Goal = goal;
            if (!columns.Contains(column)) columns.Add(column);
        }
        Console.WriteLine($"  {section} | {metric} | {column}: {value} | {goal?.ToString() ?? ""} | {note}");
    }

    public IReadOnlyList<(string Metric, Goal Goal)> Goals()
    {
        lock (rows) return [.. rows.Where(r => r.Goal is not null).Select(r => (r.Metric, r.Goal!))];
    }

    public string Render(string header)
    {
        var sb = new StringBuilder();
        sb.AppendLine(header).AppendLine();
        lock (rows)
        {
            sb.AppendLine($"| section | metric | {string.Join(" | ", columns)} | goal | note |");
            sb.AppendLine($"| --- | --- |{string.Concat(columns.Select(_ => " --- |"))} --- | --- |");
            foreach (var r in rows)
                sb.AppendLine($"| {r.Section} | {r.Metric} | {string.Join(" | ", columns.Select(c => r.Values.GetValueOrDefault(c, "")))} | {r.Goal?.ToString() ?? ""} | {string.Join("; ", r.Notes)} |");
        }
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

    public static string Ms(double ms) => double.IsNaN(ms) ? "n/a" : ms.ToString(Math.Abs(ms) < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " ms";

    public static string Dist(IReadOnlyList<double> ms) =>
        $"p50 {Ms(Percentile(ms, 50))}, p95 {Ms(Percentile(ms, 95))}, p99 {Ms(Percentile(ms, 99))}, max {Ms(ms.Count == 0 ? double.NaN : ms.Max())}";

    public static string Number(double x, string format = "0.0") => x.ToString(format, CultureInfo.InvariantCulture);

    public static string Seconds(TimeSpan t) => t >= TimeSpan.FromMinutes(2)
        ? $"{t.TotalMinutes.ToString("0", CultureInfo.InvariantCulture)} min"
        : $"{t.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s";
}
