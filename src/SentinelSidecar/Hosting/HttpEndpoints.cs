using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Hosting;

/// <summary>One answer of <see cref="HttpEndpoints"/>.</summary>
public readonly record struct HttpReply(int Code, string ContentType, string Body)
{
    public const string Text = "text/plain; charset=utf-8";
    public static HttpReply Plain(int code, string body) => new(code, Text, body);
}

/// <summary>
/// A deliberately small HTTP/1.1 server for probes, scraping and the handover hook: one request per connection, a
/// handler per path (given the method). Unknown paths get 404. The sidecar runs two: /livez /readyz /metrics on
/// HTTP_PORT, and /handover alone on HANDOVER_PORT.
/// </summary>
public sealed class HttpEndpoints(
    IPAddress address,
    int port,
    IReadOnlyDictionary<string, Func<string, CancellationToken, Task<HttpReply>>> routes,
    ILogger logger)
{
    static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);
    TcpListener? listener;

    public int Port => (listener?.LocalEndpoint as IPEndPoint)?.Port ?? port;

    public void Start()
    {
        listener = new TcpListener(address, port);
        listener.Start(64);
        Log.Listening(logger, Port, string.Join(" ", routes.Keys));
    }

    public async Task RunAsync(CancellationToken ct)
    {
        if (listener is null) Start();
        using var reg = ct.Register(() => listener!.Stop());
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener!.AcceptTcpClientAsync(ct).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && ct.IsCancellationRequested) { return; }
            _ = HandleAsync(client, ct);
        }
    }

    async Task HandleAsync(TcpClient client, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var (method, path) = await ReadRequestLineAsync(stream, ct).ConfigureAwait(false);
                var (code, type, body) = await RouteAsync(method, path, ct).ConfigureAwait(false);
                var length = Encoding.UTF8.GetByteCount(body);
                var head = $"HTTP/1.1 {code} {Reason(code)}\r\nContent-Type: {type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n";
                // One write: a probe a second is most of what wakes this process at rest.
                await stream.WriteAsync(Encoding.UTF8.GetBytes(method == "HEAD" ? head : head + body), ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or InvalidDataException or TimeoutException) { }
        }
    }

    async Task<HttpReply> RouteAsync(string method, string path, CancellationToken ct)
    {
        var q = path.IndexOf('?');
        if (q >= 0) path = path[..q];
        if (!routes.TryGetValue(path, out var handler)) return HttpReply.Plain(404, "not found\n");
        try { return await handler(method, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The preStop hook (or an operator) gets a clear failure instead of a dropped connection.
            return HttpReply.Plain(500, $"{path} failed: {e.GetType().Name}\n");
        }
    }

    /// <summary>GET (and HEAD) only.</summary>
    public static Func<string, CancellationToken, Task<HttpReply>> Get(Func<HttpReply> reply) =>
        (method, _) => Task.FromResult(method is "GET" or "HEAD" ? reply() : HttpReply.Plain(405, "method not allowed\n"));

    static async Task<(string Method, string Path)> ReadRequestLineAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[8192];
        var filled = 0;
        while (true)
        {
            // A probe's request is usually there with the connection: the read completes at once, and only a read that
            // has to wait gets a timer (one per probe a second was a wake-up of the timer thread each).
            var read = stream.ReadAsync(buffer.AsMemory(filled), ct);
            var n = read.IsCompletedSuccessfully ? read.Result : await read.AsTask().WaitAsync(ReadTimeout, ct).ConfigureAwait(false);
            if (n == 0) throw new InvalidDataException("connection closed before the request was complete");
            filled += n;
            var text = Encoding.ASCII.GetString(buffer, 0, filled);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var parts = text[..text.IndexOf("\r\n", StringComparison.Ordinal)].Split(' ');
                if (parts.Length != 3) throw new InvalidDataException("malformed request line");
                return (parts[0], parts[1]);
            }
            if (filled == buffer.Length) throw new InvalidDataException("request headers too large");
        }
    }

    static string Reason(int code) => code switch
    {
        200 => "OK", 404 => "Not Found", 405 => "Method Not Allowed", 500 => "Internal Server Error", 503 => "Service Unavailable", _ => "Status",
    };
}
