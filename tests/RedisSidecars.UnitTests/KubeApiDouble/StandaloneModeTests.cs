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
                "--statefulset", "redis", "--latency-ms", "1", "--watch-expiry-seconds", "60", "--bookmark-seconds", "5",
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

            var set = await client.AppsV1.ReadNamespacedStatefulSetAsync("redis", "demo");
            Assert.Equal(3, set.Spec.Replicas);
            Assert.Equal(set.Status.UpdateRevision, masters.Items[0].Metadata.Labels["controller-revision-hash"]);

            using var http = new HttpClient { BaseAddress = new Uri(line!["listening on ".Length..]) };
            var timeline = JsonNode.Parse(await http.GetStringAsync("/_double/timeline?key=role&value=master"))!;
            Assert.Equal(1, (int)timeline["maxConcurrent"]!);
            var mark = JsonNode.Parse(await http.GetStringAsync("/_double/mark"))!;
            using (await http.PostAsync("/_double/rollout?namespace=demo&name=redis", null))
            {
            }

            await client.AppsV1.ReadNamespacedStatefulSetAsync("redis", "demo");
            var counts = JsonNode.Parse(await http.GetStringAsync($"/_double/counts?since={(long)mark["sequence"]!}"))!;
            Assert.Equal(1, (int)counts["total"]!);
            var endpoints = JsonNode.Parse(await http.GetStringAsync("/_double/endpoints?namespace=demo&selector=role%3Dmaster"))!;
            Assert.Equal("role=master", (string?)endpoints["selector"]);

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
    public async Task Main_ReadinessProbe_PodReadyWhileTheUrlAnswers200AndTheServiceEndpointFollows()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var stopServing = new CancellationTokenSource();
        var serving = ServeOkAsync(listener, stopServing.Token);
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList =
            {
                Path.Combine(AppContext.BaseDirectory, "KubeApiDouble.dll"), "--listen", "127.0.0.1:0", "--namespace", "demo",
                "--pods", "redis-0,redis-1", "--label", "redis-0:role=master", "--label", "redis-1:role=replica",
                "--readiness-probe", $"redis-0=http://127.0.0.1:{port}/readyz", "--probe-period-ms", "100", "--probe-failure-threshold", "1",
            },
        };
        using var process = Process.Start(start)!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = new Uri(line!["listening on ".Length..]) };
            async Task<string> ReadyEndpointsAsync()
            {
                var changes = (JsonArray)JsonNode.Parse(await http.GetStringAsync("/_double/endpoints?namespace=demo&selector=role%3Dmaster"))!["changes"]!;
                return changes.Count == 0 ? "" : string.Join(",", ((JsonArray)changes[^1]!["ready"]!).Select(p => (string?)p));
            }

            var ready = "";
            for (var i = 0; i < 300 && ready != "redis-0"; i++)
            {
                ready = await ReadyEndpointsAsync();
                if (ready != "redis-0") await Task.Delay(100);
            }

            Assert.Equal("redis-0", ready);

            await stopServing.CancelAsync(); // the probe's URL stops answering: the pod goes NotReady, the Service has no endpoint
            listener.Stop();
            for (var i = 0; i < 300 && ready != ""; i++)
            {
                ready = await ReadyEndpointsAsync();
                if (ready != "") await Task.Delay(100);
            }

            Assert.Equal("", ready);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            await stopServing.CancelAsync();
            await serving;
        }

        static async Task ServeOkAsync(System.Net.Sockets.TcpListener listener, CancellationToken ct)
        {
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    using var client = await listener.AcceptTcpClientAsync(ct);
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    _ = await stream.ReadAsync(buffer, ct);
                    await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), ct);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
            {
                // stopped
            }
        }
    }

    [Theory]
    [InlineData("KubeApiDouble: --readiness-probe 'redis-0' is not POD=http://HOST:PORT/PATH", "--readiness-probe", "redis-0")]
    [InlineData("KubeApiDouble: unknown argument '--bogus'", "--bogus")]
    [InlineData("KubeApiDouble: --latency-ms '-3' is not a non-negative whole number", "--latency-ms", "-3")]
    [InlineData("KubeApiDouble: --watch-expiry-seconds '0' must be greater than 0", "--watch-expiry-seconds", "0")]
    public async Task Main_BadArgument_ExitsWithCode2AndOneLineReason(string expected, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "KubeApiDouble.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;

        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
