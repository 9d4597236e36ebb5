using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

public sealed class StandaloneModeTests
{
    [Fact]
    public async Task Main_StartedAsProcess_PrintsListeningLineServesClientAndStopsOnSigterm()
    {
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"kad-{Guid.NewGuid():N}.yaml");
        var dll = Path.Combine(AppContext.BaseDirectory, "KubeApiDouble.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList =
            {
                dll, "--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig, "--namespace", "demo",
                "--pods", "redis-0,redis-1,redis-2", "--readiness-gate", "redis.io/role-ready", "--label", "redis-0:role=master",
            },
        };
        using var process = Process.Start(start)!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Matches(@"^listening on http://127\.0\.0\.1:\d+$", line);

            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
            var masters = await client.CoreV1.ListNamespacedPodAsync("demo", labelSelector: "role=master");
            Assert.Equal("redis-0", Assert.Single(masters.Items).Metadata.Name);
            Assert.Equal("redis.io/role-ready", Assert.Single(masters.Items[0].Spec.ReadinessGates).ConditionType);

            using var http = new HttpClient { BaseAddress = new Uri(line!["listening on ".Length..]) };
            var timeline = JsonNode.Parse(await http.GetStringAsync("/_double/timeline?key=role&value=master"))!;
            Assert.Equal(1, (int)timeline["maxConcurrent"]!);

            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            await kill.WaitForExitAsync();
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exited.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            File.Delete(kubeconfig);
        }
    }

    [Fact]
    public async Task Main_UnknownArgument_ExitsWithCode2AndOneLineReason()
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "KubeApiDouble.dll"), "--bogus"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;

        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.StartsWith("KubeApiDouble: unknown argument '--bogus'", error, StringComparison.Ordinal);
    }
}
