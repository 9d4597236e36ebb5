using System.Text.RegularExpressions;
using RedisSidecars.ManifestTests.Infrastructure;
using YamlDotNet.Serialization;

namespace RedisSidecars.ManifestTests.Monitoring;

/// <summary>
/// The metrics component's PrometheusRule: its spec, as each overlay renders it, is written out as a promtool rule
/// file and run against the unit tests in Monitoring/RuleTests (promtool test rules), then checked against the
/// sidecar's metrics contract.
/// </summary>
public class AlertRuleTests
{
    static readonly string RuleTestDir = Repo.File("tests", "RedisSidecars.ManifestTests", "Monitoring", "RuleTests");

    static IReadOnlyList<string> RuleTestFiles =>
        Directory.GetFiles(RuleTestDir, "*.test.yaml").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Overlays => new(MetricsComponent.Overlays);

    public static TheoryData<string, string> OverlaysAndRuleTests
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var overlay in MetricsComponent.Overlays)
                foreach (var file in RuleTestFiles) data.Add(overlay, file);
            return data;
        }
    }

    [Fact]
    public void MetricsComponent_IsSwitchedOnBySomeOverlay()
    {
        // Otherwise the theories below would have no data, and nothing would test the rules.
        Assert.NotEmpty(MetricsComponent.Overlays);
        Assert.NotEmpty(RuleTestFiles);
    }

    [Theory, MemberData(nameof(OverlaysAndRuleTests))]
    public void PromtoolTestRules_RenderedRule_PassesRuleTests(string overlay, string testFile)
    {
        var files = new Dictionary<string, string>
        {
            ["rules.yaml"] = MetricsComponent.RuleFileYaml(Kustomize.Overlay(overlay)),
            [testFile] = File.ReadAllText(Path.Combine(RuleTestDir, testFile)),
        };

        var (code, output) = MetricsComponent.Promtool(files, "test", "rules", testFile);

        Assert.True(code == 0, $"{overlay}: promtool test rules {testFile} failed (exit {code}):\n{output}");
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void PromtoolCheckRules_RenderedRule_IsValid(string overlay)
    {
        var r = Kustomize.Overlay(overlay);

        var (code, output) = MetricsComponent.Promtool(new Dictionary<string, string> { ["rules.yaml"] = MetricsComponent.RuleFileYaml(r) }, "check", "rules", "rules.yaml");

        Assert.True(code == 0, $"{overlay}: promtool check rules failed (exit {code}):\n{output}");
        Assert.Contains($"SUCCESS: {MetricsComponent.Alerts(r).Count} rules found", output, StringComparison.Ordinal);
    }

    [Theory, MemberData(nameof(Overlays))]
    public void RuleTests_EveryAlert_IsTestedFiringAndQuiet(string overlay)
    {
        var alerts = MetricsComponent.Alerts(Kustomize.Overlay(overlay)).Select(a => (string)a["alert"]).ToHashSet(StringComparer.Ordinal);
        var firing = new HashSet<string>(StringComparer.Ordinal);
        var quiet = new HashSet<string>(StringComparer.Ordinal);
        var deserializer = new DeserializerBuilder().Build();
        foreach (var file in RuleTestFiles)
        {
            var doc = deserializer.Deserialize<Dictionary<object, object>>(File.ReadAllText(Path.Combine(RuleTestDir, file)));
            Assert.Equal(["rules.yaml"], ((List<object>)doc["rule_files"]).Cast<string>());
            foreach (var test in ((List<object>)doc["tests"]).Cast<Dictionary<object, object>>())
                foreach (var check in (test.TryGetValue("alert_rule_test", out var c) ? (List<object>)c : []).Cast<Dictionary<object, object>>())
                {
                    var name = (string)check["alertname"];
                    // promtool accepts any name and "expects nothing" of an alert that does not exist: a typo would pass.
                    Assert.True(alerts.Contains(name), $"{file}: alert_rule_test for '{name}', which the PrometheusRule does not define");
                    var expected = check.TryGetValue("exp_alerts", out var e) && e is List<object> l ? l : [];
                    (expected.Count > 0 ? firing : quiet).Add(name);
                }
        }
        Assert.Empty(alerts.Except(firing).Select(a => $"never tested firing: {a}"));
        Assert.Empty(alerts.Except(quiet).Select(a => $"never tested staying quiet: {a}"));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Alerts_EachHasSeveritySummaryDescriptionAndRunbook(string overlay)
    {
        var problems = new List<string>();
        foreach (var a in MetricsComponent.Alerts(Kustomize.Overlay(overlay)))
        {
            var name = (string)a["alert"];
            var labels = a.TryGetValue("labels", out var l) ? (Dictionary<object, object>)l : [];
            var annotations = a.TryGetValue("annotations", out var an) ? (Dictionary<object, object>)an : [];
            string Annotation(string key) => annotations.TryGetValue(key, out var v) ? (string)v : "";

            if (!labels.TryGetValue("severity", out var severity) || severity is not ("critical" or "warning"))
                problems.Add($"{name}: severity must be critical or warning, is '{severity}'");
            foreach (var key in new[] { "summary", "description", "runbook" })
                if (string.IsNullOrWhiteSpace(Annotation(key))) problems.Add($"{name}: no {key} annotation");
            if (!Annotation("description").Contains("$labels.namespace", StringComparison.Ordinal))
                problems.Add($"{name}: the description does not name the namespace");
            // An alert on one pod's series (not aggregated) must say which pod.
            var perPod = !Regex.IsMatch((string)a["expr"], @"\b(count|sum|max|min|avg)\s+by\b");
            if (perPod && !(Annotation("summary") + Annotation("description")).Contains("$labels.pod", StringComparison.Ordinal))
                problems.Add($"{name}: a per-pod alert whose summary/description does not name the pod");
            if (!Annotation("runbook").Contains("kubectl", StringComparison.Ordinal))
                problems.Add($"{name}: the runbook names no command to run");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Alerts_ReadOnlyContractMetricsAndTheSidecarsUp(string overlay)
    {
        var r = Kustomize.Overlay(overlay);
        var job = MetricsComponent.SidecarJob(r);
        var problems = new List<string>();
        foreach (var a in MetricsComponent.Alerts(r))
        {
            var selectors = PromQl.Selectors((string)a["expr"]);
            Assert.NotEmpty(selectors);
            foreach (var s in selectors)
            {
                if (s.Metric != "up" && !SidecarMetricsContract.Exports(s.Metric))
                    problems.Add($"{a["alert"]}: reads {s.Metric}, which redis-sidecar does not export");
                if ((s.Metric == "up" || SidecarMetricsContract.IsShared(s.Metric)) && !s.Matchers.Contains($"job=\"{job}\"", StringComparison.Ordinal))
                    problems.Add($"{a["alert"]}: {s.Metric} is not only the sidecar's: select job=\"{job}\"");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory, MemberData(nameof(Overlays))]
    public void Alerts_AggregateWithinOneNamespace(string overlay)
    {
        // Several Redis sets in one cluster: a set-wide count must never add up pods of different namespaces.
        foreach (var a in MetricsComponent.Alerts(Kustomize.Overlay(overlay)))
            foreach (Match m in Regex.Matches((string)a["expr"], @"\b(by|on|without|ignoring)\s*\(([^)]*)\)"))
            {
                Assert.True(m.Groups[1].Value is "by" or "on", $"{a["alert"]}: {m.Value}: name the labels kept");
                Assert.Contains("namespace", m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries));
            }
    }

    [Theory, MemberData(nameof(Overlays))]
    public void HandoverFailed_OutcomeMatchers_SelectExactlyTheFailedOutcomes(string overlay)
    {
        var alert = MetricsComponent.Alerts(Kustomize.Overlay(overlay)).Single(a => (string)a["alert"] == "RedisHandoverFailed");
        var handoverSelectors = PromQl.Selectors((string)alert["expr"]).Where(s => s.Metric == "redis_sidecar_handovers_total").ToArray();
        Assert.NotEmpty(handoverSelectors);
        foreach (var s in handoverSelectors)
        {
            var m = Regex.Match(s.Matchers, @"^\s*outcome\s*(=~|!~)\s*""([^""]*)""\s*$");
            Assert.True(m.Success, $"expected one outcome regex matcher, got {{{s.Matchers}}}");
            var regex = new Regex($"^(?:{m.Groups[2].Value})$"); // PromQL regex matchers are fully anchored
            foreach (var outcome in SidecarMetricsContract.HandoverOutcomes)
            {
                var selected = regex.IsMatch(outcome) == (m.Groups[1].Value == "=~");
                var failed = !SidecarMetricsContract.SucceededHandoverOutcomes.Contains(outcome);
                Assert.True(selected == failed, $"{outcome}: {(failed ? "a failure the alert misses" : "not a failure, yet the alert selects it")} ({s.Matchers})");
            }
        }
    }
}
