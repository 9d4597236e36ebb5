using System.Text.Json;
using System.Text.RegularExpressions;
using k8s.Models;
using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Monitoring;

/// <summary>The Grafana dashboard of the metrics component (dashboard.json, shipped as a ConfigMap by a configMapGenerator).</summary>
public class DashboardTests
{
    const string ConfigMapName = "redis-sidecars-dashboard";
    static readonly string DashboardFile = Repo.File("manifests", "components", MetricsComponent.Name, "dashboard.json");

    public static TheoryData<string> Overlays => new(MetricsComponent.Overlays);

    static JsonElement Dashboard() => JsonDocument.Parse(File.ReadAllText(DashboardFile)).RootElement;

    /// <summary>Every panel, rows' nested panels included.</summary>
    static IEnumerable<JsonElement> Panels(JsonElement container) =>
        container.TryGetProperty("panels", out var panels)
            ? panels.EnumerateArray().SelectMany(p => new[] { p }.Concat(Panels(p)))
            : [];

    static IEnumerable<(string Panel, string Expr)> Exprs(JsonElement dashboard) =>
        Panels(dashboard).SelectMany(p => (p.TryGetProperty("targets", out var t) ? t.EnumerateArray() : default(JsonElement.ArrayEnumerator))
            .Select(target => (p.GetProperty("title").GetString()!, target.GetProperty("expr").GetString()!)));

    static JsonElement Variable(JsonElement dashboard, string name) =>
        dashboard.GetProperty("templating").GetProperty("list").EnumerateArray().SingleOrDefault(v => v.GetProperty("name").GetString() == name) is { ValueKind: JsonValueKind.Object } v
            ? v
            : throw new Xunit.Sdk.XunitException($"dashboard has no variable '{name}'");

    [Theory, MemberData(nameof(Overlays))]
    public void ConfigMap_IsTheDashboardFileUnderAStableNameWithGrafanasLabel(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var cm = r.All<V1ConfigMap>().SingleOrDefault(c => c.Metadata.Name == ConfigMapName)
                 ?? throw new Xunit.Sdk.XunitException($"{overlay}: no ConfigMap named exactly '{ConfigMapName}' (a hash suffix would change its name on every edit)");

        Assert.Equal("1", cm.Metadata.Labels?["grafana_dashboard"]);
        var (key, json) = Assert.Single(cm.Data);
        Assert.EndsWith(".json", key, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(DashboardFile), json);
    }

    [Fact]
    public void Dashboard_Parses_WithUniquePanelIdsAndAFixedUid()
    {
        var d = Dashboard();
        Assert.False(string.IsNullOrEmpty(d.GetProperty("uid").GetString()), "a fixed uid, so Grafana replaces the dashboard instead of adding one");
        var panels = Panels(d).ToArray();
        Assert.NotEmpty(panels);
        var ids = panels.Select(p => p.TryGetProperty("id", out var id) ? id.GetInt32() : throw new Xunit.Sdk.XunitException($"panel '{p.GetProperty("title")}' has no id")).ToArray();
        Assert.Empty(ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => $"panel id {g.Key} used {g.Count()} times"));
        foreach (var p in panels)
        {
            Assert.True(p.TryGetProperty("gridPos", out _), $"panel {p.GetProperty("id")} has no gridPos");
            Assert.False(string.IsNullOrEmpty(p.GetProperty("title").GetString()), $"panel {p.GetProperty("id")} has no title");
        }
    }

    [Fact]
    public void Dashboard_HasDatasourceAndNamespaceVariables_AndEveryQueryUsesThem()
    {
        var d = Dashboard();
        var datasource = Variable(d, "datasource");
        Assert.Equal("datasource", datasource.GetProperty("type").GetString());
        Assert.Equal("prometheus", datasource.GetProperty("query").GetString());

        var ns = Variable(d, "namespace");
        Assert.Equal("${datasource}", ns.GetProperty("datasource").GetProperty("uid").GetString());
        var query = ns.GetProperty("query").GetProperty("query").GetString()!;
        var m = Regex.Match(query, @"^label_values\((\w+)(\{[^}]*\})?,\s*namespace\)$");
        Assert.True(m.Success, $"namespace variable: {query}");
        Assert.True(SidecarMetricsContract.Exports(m.Groups[1].Value), $"namespace variable reads {m.Groups[1].Value}, which redis-sidecar does not export");

        foreach (var p in Panels(d).Where(p => p.TryGetProperty("targets", out _)))
        {
            Assert.Equal("${datasource}", p.GetProperty("datasource").GetProperty("uid").GetString());
            foreach (var t in p.GetProperty("targets").EnumerateArray())
                Assert.Equal("${datasource}", t.GetProperty("datasource").GetProperty("uid").GetString());
        }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Dashboard_EveryExpr_ReadsOnlyContractMetricsOfTheSelectedNamespace(string overlay)
    {
        var job = MetricsComponent.SidecarJob(Kustomize.Overlay(overlay));
        var problems = new List<string>();
        var exprs = Exprs(Dashboard()).ToArray();
        Assert.NotEmpty(exprs);
        foreach (var (panel, expr) in exprs)
        {
            var selectors = PromQl.Selectors(expr);
            if (selectors.Count == 0) problems.Add($"{panel}: reads no metric: {expr}");
            foreach (var s in selectors)
            {
                if (!SidecarMetricsContract.Exports(s.Metric)) problems.Add($"{panel}: reads '{s.Metric}', which redis-sidecar does not export");
                if (!Regex.IsMatch(s.Matchers, @"(^|,)\s*namespace\s*=~?\s*""\$namespace""")) problems.Add($"{panel}: {s.Metric} not limited to namespace=\"$namespace\"");
                if (SidecarMetricsContract.IsShared(s.Metric) && !s.Matchers.Contains($"job=\"{job}\"", StringComparison.Ordinal))
                    problems.Add($"{panel}: {s.Metric} is exported by redis_exporter too: select job=\"{job}\"");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Dashboard_EveryExpr_IsValidPromQl()
    {
        // promtool parses each query as a recording rule, with Grafana's variables filled in.
        var exprs = Exprs(Dashboard()).Select(e => e.Expr.Replace("$namespace", "redis", StringComparison.Ordinal)
            .Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$__range", "6h", StringComparison.Ordinal)).ToArray();
        var rules = new Dictionary<string, object>
        {
            ["groups"] = new[] { new Dictionary<string, object> { ["name"] = "dashboard", ["rules"] = exprs.Select((e, i) => new Dictionary<string, string> { ["record"] = $"dashboard:query_{i}", ["expr"] = e }).ToArray() } },
        };
        var queries = new YamlDotNet.Serialization.SerializerBuilder().Build().Serialize(rules);

        var (code, output) = MetricsComponent.Promtool(new Dictionary<string, string> { ["queries.yaml"] = queries }, "check", "rules", "queries.yaml");

        Assert.True(code == 0, $"promtool check rules on the dashboard's queries failed (exit {code}):\n{output}");
        Assert.Contains($"SUCCESS: {exprs.Length} rules found", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Dashboard_ChartsEveryContractMetric()
    {
        var charted = Exprs(Dashboard()).SelectMany(e => PromQl.MetricNames(e.Expr))
            .Select(m => Regex.Replace(m, "_(bucket|sum|count)$", "") is var b && SidecarMetricsContract.Metrics.GetValueOrDefault(b) == "histogram" ? b : m)
            .ToHashSet(StringComparer.Ordinal);
        Assert.Empty(SidecarMetricsContract.Metrics.Keys.Except(charted).Select(m => $"no panel shows {m}"));
    }
}
