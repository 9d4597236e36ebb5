using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using RedisSidecars.Sidecar.Hosting;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>The small HTTP server over a real loopback socket (an ephemeral port chosen by the OS), with its own route table.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HttpEndpointsTests : IAsyncLifetime
{
    readonly CancellationTokenSource stop = new();
    readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(10) };
    HttpEndpoints server = null!;
    Task serving = Task.CompletedTask;
    volatile bool ready;
    int handlerCalls;
    string? methodSeen;
    Exception? handlerThrows;

    public Task InitializeAsync()
    {
        server = new HttpEndpoints(IPAddress.Loopback, 0, new Dictionary<string, Func<string, CancellationToken, Task<HttpReply>>>
        {
            ["/readyz"] = HttpEndpoints.Get(() => ready ? HttpReply.Plain(200, "ready\n") : HttpReply.Plain(503, "not ready\n")),
            ["/metrics"] = HttpEndpoints.Get(() => new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8", "x 1\n")),
            ["/action"] = (method, _) =>
            {
                Interlocked.Increment(ref handlerCalls);
                methodSeen = method;
                if (handlerThrows is { } e) throw e;
                return Task.FromResult(method is "POST" or "GET" ? HttpReply.Plain(200, $"did it ({method})\n") : HttpReply.Plain(405, "method not allowed\n"));
            },
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

    Task<HttpResponseMessage> SendAsync(string method, string path) => http.SendAsync(new HttpRequestMessage(new HttpMethod(method), Url(path)));

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
    public async Task Get_RouteHandler_ItsReply()
    {
        using (var no = await http.GetAsync(Url("/readyz"))) Assert.Equal(HttpStatusCode.ServiceUnavailable, no.StatusCode);

        ready = true;
        using var yes = await http.GetAsync(Url("/readyz"));

        Assert.Equal(HttpStatusCode.OK, yes.StatusCode);
        Assert.Equal("ready\n", await yes.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", yes.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Get_ContentTypeOfTheReply_Sent()
    {
        using var r = await http.GetAsync(Url("/metrics"));

        Assert.Contains(r.Content.Headers.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
    }

    [Fact]
    public async Task Get_WithQueryString_SameRoute()
    {
        ready = true;

        using var r = await http.GetAsync(Url("/readyz?verbose=1"));

        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/nope")]
    [InlineData("/readyz/extra")]
    [InlineData("/READYZ")]
    public async Task AnyMethod_UnknownPath_404(string path)
    {
        using var get = await SendAsync("GET", path);
        using var post = await SendAsync("POST", path);

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task Get_OtherMethodOnAGetRoute_405(string method)
    {
        using var r = await SendAsync(method, "/readyz");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("GET")]
    [InlineData("PUT")]
    public async Task Handler_GivenTheMethod_DecidesItself(string method)
    {
        using var r = await SendAsync(method, "/action");

        Assert.Equal(method == "PUT" ? HttpStatusCode.MethodNotAllowed : HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(method, methodSeen);
        Assert.Equal(1, handlerCalls);
    }

    [Fact]
    public async Task Head_GetRoute_StatusAndLengthWithoutBody()
    {
        ready = true;

        var reply = await RawAsync("HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
        Assert.Contains("Content-Length: 6\r\n", reply);
        Assert.EndsWith("\r\n\r\n", reply);
    }

    [Fact]
    public async Task Handler_Throws_500WithOneLineAndServerKeepsAnswering()
    {
        handlerThrows = new TimeoutException("local Redis frozen\nsecond line");

        using var r = await http.PostAsync(Url("/action"), new StringContent(""));

        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        Assert.Equal("/action failed: TimeoutException\n", await r.Content.ReadAsStringAsync()); // the type, not the message
        ready = true;
        using var next = await http.GetAsync(Url("/readyz"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task Request_TwoOnOneConnection_OnlyTheFirstAnsweredThenClosed()
    {
        ready = true;

        var reply = await RawAsync("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nPOST /action HTTP/1.1\r\nHost: x\r\n\r\n");

        Assert.Equal(1, CountOf(reply, "HTTP/1.1 "));
        Assert.Contains("Connection: close\r\n", reply);
        Assert.EndsWith("\r\n\r\nready\n", reply);
        Assert.Equal(0, handlerCalls);
    }

    static int CountOf(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;

    [Fact]
    public async Task Request_Http10_AnsweredAndClosed()
    {
        ready = true;

        var reply = await RawAsync("GET /readyz HTTP/1.0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", reply);
        Assert.EndsWith("\r\n\r\nready\n", reply);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("GET\r\n\r\n")]
    [InlineData("GET / HTTP/1.1 extra\r\n\r\n")]
    [InlineData("\0\u0001\u0002\r\n\r\n")]
    public async Task Request_Malformed_ClosedWithoutAnswerServerStillAnswers(string garbage)
    {
        var reply = await RawAsync(garbage);

        Assert.Equal("", reply);
        using var next = await http.GetAsync(Url("/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, next.StatusCode);
    }

    [Fact]
    public async Task Request_OversizedHeaders_ClosedServerStillAnswers()
    {
        string? reply;
        try { reply = await RawAsync("GET /readyz HTTP/1.1\r\nX-Big: " + new string('a', 10_000) + "\r\n\r\n"); }
        catch (IOException) { reply = null; } // closed with unread bytes: a reset is as good as a close

        Assert.True(string.IsNullOrEmpty(reply), "expected no response, got: " + reply);
        using var next = await http.GetAsync(Url("/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, next.StatusCode);
    }

    [Fact]
    public async Task Request_SlowClientHoldingAConnection_OthersStillAnswered()
    {
        using var slow = new TcpClient();
        await slow.ConnectAsync(IPAddress.Loopback, server.Port);
        await slow.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /readyz HTTP/1.1\r\n"));

        using var next = await http.GetAsync(Url("/readyz"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, next.StatusCode);
    }

    [Fact]
    public async Task Request_ClientClosesEarly_ServerStillAnswers()
    {
        for (var i = 0; i < 5; i++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, server.Port);
            if (i % 2 == 1) await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("GET /readyz HT"));
            client.Close();
        }

        using var next = await http.GetAsync(Url("/readyz"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, next.StatusCode);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsListening()
    {
        var port = server.Port;

        await stop.CancelAsync();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));

        using var client = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, port));
    }
}
