using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using RedisSidecars.Sidecar.Hosting;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>The probe/metrics/handover server over a real loopback socket.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HttpEndpointsTests : IAsyncLifetime
{
    readonly CancellationTokenSource stop = new();
    readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };
    HttpEndpoints server = null!;
    Task serving = Task.CompletedTask;
    int handoverCalls;

    volatile bool alive = true;
    volatile bool ready;
    string metricsText = "# HELP x y\n# TYPE x gauge\nx 1\n";
    HandoverResult handoverResult = new(HandoverOutcome.HandedOver, "new master 127.0.1.2:6379", TimeSpan.FromMilliseconds(1234));
    Exception? handoverThrows;

    public Task InitializeAsync()
    {
        server = new HttpEndpoints(IPAddress.Loopback, 0, () => alive, () => ready, () => metricsText,
            _ =>
            {
                Interlocked.Increment(ref handoverCalls);
                return handoverThrows is { } e ? Task.FromException<HandoverResult>(e) : Task.FromResult(handoverResult);
            }, NullLogger.Instance);
        server.Start();
        serving = server.RunAsync(stop.Token);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        http.Dispose();
        stop.Dispose();
    }

    Uri Url(string path) => new($"http://127.0.0.1:{server.Port}{path}");

    Task<HttpResponseMessage> GetAsync(string path) => http.GetAsync(Url(path));
    Task<HttpResponseMessage> PostAsync(string path) => http.PostAsync(Url(path), new StringContent(""));

    /// <summary>Sends raw bytes and reads until the server closes the connection.</summary>
    async Task<string> RawAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Port_BoundToZero_ReportsTheRealPort()
    {
        Assert.InRange(server.Port, 1, 65535);
    }

    [Fact]
    public async Task Livez_PerDelegate_200Or503()
    {
        using (var ok = await GetAsync("/livez")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        alive = false;
        using var stalled = await GetAsync("/livez");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, stalled.StatusCode);
        Assert.Contains("stalled", await stalled.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readyz_PerDelegate_503Then200()
    {
        using (var no = await GetAsync("/readyz")) Assert.Equal(HttpStatusCode.ServiceUnavailable, no.StatusCode);

        ready = true;
        using var yes = await GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, yes.StatusCode);
        Assert.Equal("ready\n", await yes.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readyz_WithQueryString_SameRoute()
    {
        ready = true;
        using var r = await GetAsync("/readyz?verbose=1");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Fact]
    public async Task Metrics_Get_PrometheusContentTypeAndBody()
    {
        metricsText = new SidecarMetrics { Role = 2 }.Render();

        using var r = await GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/plain", r.Content.Headers.ContentType!.MediaType);
        Assert.Contains(r.Content.Headers.ContentType.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        Assert.Equal(metricsText, await r.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("POST", HandoverOutcome.HandedOver, HttpStatusCode.OK)]
    [InlineData("GET", HandoverOutcome.HandedOver, HttpStatusCode.OK)]
    [InlineData("POST", HandoverOutcome.NotMaster, HttpStatusCode.OK)]
    [InlineData("GET", HandoverOutcome.NotMaster, HttpStatusCode.OK)]
    [InlineData("POST", HandoverOutcome.NoHealthyReplica, HttpStatusCode.OK)]
    [InlineData("POST", HandoverOutcome.TimedOut, HttpStatusCode.InternalServerError)]
    [InlineData("GET", HandoverOutcome.TimedOut, HttpStatusCode.InternalServerError)]
    [InlineData("POST", HandoverOutcome.SentinelRefused, HttpStatusCode.InternalServerError)]
    public async Task Handover_CallsDelegate_StatusPerOutcome(string method, HandoverOutcome outcome, HttpStatusCode expected)
    {
        handoverResult = new HandoverResult(outcome, "detail text", TimeSpan.FromMilliseconds(42));

        using var r = method == "POST" ? await PostAsync("/handover") : await GetAsync("/handover");

        Assert.Equal(expected, r.StatusCode);
        Assert.Equal(1, handoverCalls);
        var body = await r.Content.ReadAsStringAsync();
        Assert.StartsWith(outcome.ToString(), body);
        Assert.Contains("detail text", body);
    }

    [Fact]
    public async Task Handover_DelegateThrows_500WithTheErrorAndServerKeepsAnswering()
    {
        handoverThrows = new TimeoutException("local Redis frozen");

        using var r = await PostAsync("/handover");

        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        Assert.Equal("handover failed: TimeoutException\n", await r.Content.ReadAsStringAsync());
        using var next = await GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Handover_Put_405AndDelegateNotCalled()
    {
        using var r = await http.PutAsync(Url("/handover"), new StringContent(""));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
        Assert.Equal(0, handoverCalls);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/nope")]
    [InlineData("/readyz/extra")]
    public async Task UnknownPath_404(string path)
    {
        using var r = await GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
    }

    [Theory]
    [InlineData("/readyz")]
    [InlineData("/livez")]
    [InlineData("/metrics")]
    public async Task ProbePost_405(string path)
    {
        using var r = await PostAsync(path);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
    }

    [Fact]
    public async Task Head_Readyz_StatusWithoutBody()
    {
        ready = true;

        var reply = await RawAsync("HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
        Assert.EndsWith("\r\n\r\n", reply);
    }

    [Fact]
    public async Task RawRequest_Http10_AnsweredAndClosed()
    {
        var reply = await RawAsync("GET /livez HTTP/1.0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
        Assert.Contains("Connection: close\r\n", reply);
        Assert.EndsWith("\r\n\r\nok\n", reply);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("GET\r\n\r\n")]
    [InlineData("GET / HTTP/1.1 extra\r\n\r\n")]
    [InlineData("\0\u0001\u0002\r\n\r\n")]
    public async Task GarbageRequest_ConnectionClosedAndServerStillAnswers(string garbage)
    {
        var reply = await RawAsync(garbage);

        Assert.DoesNotContain("200", reply);
        using var next = await GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task OversizedHeaders_ConnectionClosedAndServerStillAnswers()
    {
        string? reply;
        try { reply = await RawAsync("GET /livez HTTP/1.1\r\nX-Big: " + new string('a', 10_000) + "\r\n\r\n"); }
        catch (IOException) { reply = null; } // closed with unread bytes: a reset is as good as a close

        Assert.True(string.IsNullOrEmpty(reply), "expected no response, got: " + reply);
        using var next = await GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task ClientClosesEarly_ServerStillAnswers()
    {
        for (var i = 0; i < 5; i++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, server.Port);
            if (i % 2 == 1) await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /readyz HT"));
            client.Close();
        }

        using var next = await GetAsync("/livez");

        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task SlowClientHoldingAConnection_OtherRequestsStillAnswered()
    {
        using var slow = new TcpClient();
        await slow.ConnectAsync(IPAddress.Loopback, server.Port);
        await slow.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /livez HTTP/1.1\r\n"));

        using var next = await GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, next.StatusCode);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsListening()
    {
        var port = server.Port;
        using (var before = await GetAsync("/livez")) Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        await stop.CancelAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));

        using var client = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, port));
    }
}
