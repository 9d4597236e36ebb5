using System.ComponentModel;
using YamlDotNet.Serialization;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>The metrics component as the overlays render it: its PrometheusRule, dashboard and the sidecar's scrape job.</summary>
public static class MetricsComponent
{
    public const string Name = "metrics";

    /// <summary>Overlays that switch the component on (read from their kustomization.yaml, without rendering).</summary>
    public static IReadOnlyList<string> Overlays =>
        Repo.Overlays.Where(o => KustomizationFile.Load(Path.Combine("overlays", o)).List("components")
                .Any(c => Path.GetFileName(c.TrimEnd('/')) == Name))
            .ToArray();

    public static UntypedResource Rule(RenderedOverlay r) =>
        r.Custom("PrometheusRule").ToArray() switch
        {
            [var one] => one,
            var many => throw new Xunit.Sdk.XunitException($"{r.Name}: expected one PrometheusRule, found {many.Length}"),
        };

    /// <summary>Every alerting rule of the rendered PrometheusRule.</summary>
    public static IReadOnlyList<Dictionary<object, object>> Alerts(RenderedOverlay r) =>
        Rule(r).List("spec", "groups").Cast<Dictionary<object, object>>()
            .SelectMany(g => g.TryGetValue("rules", out var rules) && rules is List<object> l ? l.Cast<Dictionary<object, object>>() : [])
            .Where(rule => rule.ContainsKey("alert"))
            .ToArray();

    /// <summary>The PrometheusRule's spec in the format promtool reads (a rule file is exactly {groups: [...]}).</summary>
    public static string RuleFileYaml(RenderedOverlay r) =>
        new SerializerBuilder().Build().Serialize(Rule(r).At("spec") ?? throw new Xunit.Sdk.XunitException($"{r.Name}: PrometheusRule without spec"));

    /// <summary>The job label the sidecar's series carry: the ServiceMonitor endpoint scraping the redis-sidecar container sets it.</summary>
    public static string SidecarJob(RenderedOverlay r)
    {
        var pod = r.RedisPod();
        var jobs = new List<string>();
        foreach (var m in r.Custom("ServiceMonitor"))
        {
            var svc = r.All<k8s.Models.V1Service>().Single(s => Workloads.Selects(m.StringMap("spec", "selector", "matchLabels").ToDictionary(), s.Metadata.Labels));
            foreach (var endpoint in m.List("spec", "endpoints").Cast<Dictionary<object, object>>())
            {
                var port = svc.Spec.Ports.Single(p => p.Name == (string)endpoint["port"]);
                var container = pod.Containers().Select(c => c.Container)
                    .Single(c => (c.Ports ?? []).Any(p => p.Name == port.TargetPort.Value || p.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture) == port.TargetPort.Value));
                if (Contract.Program(container.Image) != "redis-sidecar") continue;
                var relabel = (endpoint.TryGetValue("relabelings", out var rl) && rl is List<object> l ? l.Cast<Dictionary<object, object>>() : [])
                    .SingleOrDefault(x => x.TryGetValue("targetLabel", out var t) && (string)t == "job")
                    ?? throw new Xunit.Sdk.XunitException($"{r.Name}: ServiceMonitor {m.Name} does not give the sidecar's endpoint a fixed job label");
                jobs.Add((string)relabel["replacement"]);
            }
        }
        return jobs switch
        {
            [var one] => one,
            _ => throw new Xunit.Sdk.XunitException($"{r.Name}: expected one ServiceMonitor endpoint scraping redis-sidecar, found {jobs.Count}"),
        };
    }

    /// <summary>
    /// Runs promtool (Debian package prometheus; scripts/install-deps.sh installs it) in a fresh temporary folder
    /// holding <paramref name="files"/> (name → text), deleted afterwards: exit code and both outputs.
    /// </summary>
    public static (int Code, string Output) Promtool(IReadOnlyDictionary<string, string> files, params string[] args)
    {
        var dir = Directory.CreateTempSubdirectory("redis-sidecars-promtool-");
        try
        {
            foreach (var (name, text) in files) File.WriteAllText(Path.Combine(dir.FullName, name), text);
            var (code, stdout, stderr) = Repo.Run("promtool", args, dir.FullName, TimeSpan.FromMinutes(1));
            return (code, stdout + stderr);
        }
        catch (Win32Exception e)
        {
            throw new Xunit.Sdk.XunitException($"promtool could not be started ({e.Message}): `bash scripts/install-deps.sh` installs it (Debian package prometheus)");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
