using System.Net.Sockets;
using k8s.Models;
using RedisSidecars.PodTests.Harness;

namespace RedisSidecars.PodTests.Kubelet;

/// <summary>One probe or hook run: did it succeed, and what it saw (status line and body, or exit code and output).</summary>
public sealed record ActionResult(bool Success, string Detail);

/// <summary>
/// The kubelet's probes and lifecycle hooks (pkg/kubelet/prober, pkg/kubelet/lifecycle): exec runs in the container
/// (docker exec, as the container's user), httpGet goes from the node (this process) to the pod IP (or the given
/// host) and succeeds on 200–399, tcpSocket connects; a named port is looked up in that container's own ports.
/// </summary>
public static class Prober
{
    static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        // A kubelet probe does not verify the serving certificate.
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        AllowAutoRedirect = false,
    }) { Timeout = Timeout.InfiniteTimeSpan };

    public static Task<ActionResult> ProbeAsync(string podIp, V1Container container, string dockerName, V1Probe probe) =>
        RunAsync(podIp, container, dockerName, probe.Exec, probe.HttpGet, probe.TcpSocket, TimeSpan.FromSeconds(probe.TimeoutSeconds ?? 1),
            requireSuccessStatus: true);

    /// <summary>A lifecycle hook (preStop/postStart), bounded by <paramref name="timeout"/> (what is left of the grace period).</summary>
    public static async Task<ActionResult> HookAsync(string podIp, V1Container container, string dockerName, V1LifecycleHandler hook, TimeSpan timeout)
    {
        if (hook.Sleep is { } sleep)
        {
            var wanted = TimeSpan.FromSeconds(sleep.Seconds);
            await Task.Delay(wanted < timeout ? wanted : timeout);
            return new(true, $"slept {Math.Min(wanted.TotalSeconds, timeout.TotalSeconds):0}s");
        }
        return await RunAsync(podIp, container, dockerName, hook.Exec, hook.HttpGet, hook.TcpSocket, timeout, requireSuccessStatus: true);
    }

    static async Task<ActionResult> RunAsync(
        string podIp, V1Container container, string dockerName, V1ExecAction? exec, V1HTTPGetAction? http, V1TCPSocketAction? tcp,
        TimeSpan timeout, bool requireSuccessStatus)
    {
        if (timeout <= TimeSpan.Zero) return new(false, "no time left");
        if (exec is not null)
        {
            try
            {
                var (code, stdout, stderr) = await Docker.TryAsync(["exec", dockerName, .. exec.Command], timeout);
                return new(code == 0, $"exit {code}: {(stdout + stderr).Trim()}");
            }
            catch (TimeoutException) { return new(false, $"exec timed out after {timeout.TotalSeconds:0}s"); }
        }
        if (http is not null)
        {
            var port = Port(container, http.Port);
            var scheme = (http.Scheme ?? "HTTP").ToLowerInvariant();
            var host = string.IsNullOrEmpty(http.Host) ? podIp : http.Host;
            var path = string.IsNullOrEmpty(http.Path) ? "/" : http.Path;
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{scheme}://{host}:{port}{path}"));
            foreach (var h in http.HttpHeaders ?? []) request.Headers.TryAddWithoutValidation(h.Name, h.Value);
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                using var response = await Http.SendAsync(request, cts.Token);
                var body = await response.Content.ReadAsStringAsync(cts.Token);
                var code = (int)response.StatusCode;
                var ok = !requireSuccessStatus || code is >= 200 and < 400;
                return new(ok, $"GET {request.RequestUri} → {code} {body.Trim()}");
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                return new(false, $"GET {request.RequestUri} failed: {e.GetType().Name} {e.Message}");
            }
        }
        if (tcp is not null)
        {
            var port = Port(container, tcp.Port);
            using var client = new TcpClient();
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await client.ConnectAsync(string.IsNullOrEmpty(tcp.Host) ? podIp : tcp.Host, port, cts.Token);
                return new(true, $"connected to {podIp}:{port}");
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return new(false, $"connect {podIp}:{port} failed: {e.Message}");
            }
        }
        throw new NotSupportedException($"{container.Name}: a probe or hook without exec, httpGet, tcpSocket or sleep (gRPC probes are not modelled)");
    }

    /// <summary>A probe's or hook's port: a number, or the name of a port of the same container (as the kubelet resolves it).</summary>
    public static int Port(V1Container container, IntOrString port)
    {
        var text = port.Value;
        if (int.TryParse(text, out var number)) return number;
        return (container.Ports ?? []).FirstOrDefault(p => p.Name == text)?.ContainerPort
            ?? throw new InvalidOperationException($"container {container.Name} has no port named \"{text}\" (a probe or hook's named port must be one of its own container's ports)");
    }
}
