using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace RedisSidecars.Sidecar.Hosting;

/// <summary>
/// A deliberately small HTTP/1.1 server for probes and scraping: GET /livez, GET /readyz, GET /metrics,
/// POST /handover (GET too, because a Kubernetes preStop httpGet hook can only GET). One request per connection.
/// </summary>
public sealed class HttpEndpoints(
    IPAddress address,
    int port,
    Func<bool> alive,
    Func<bool> ready,
    Func<string> metrics,
    Func<CancellationToken, Task<HandoverResult>> handover,
    ILogger logger)
{
    static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);
    TcpListener? listener;

    public int Port => (listener?.LocalEndpoint as IPEndPoint)?.Port ?? port;

    public void Start()
    {
        listener = new TcpListener(address, port);
        listener.Start(64);
        Log.Listening(logger, Port);
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
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(ReadTimeout);
                var (method, path) = await ReadRequestLineAsync(stream, timeout.Token).ConfigureAwait(false);
                var (code, type, body) = await RouteAsync(method, path, ct).ConfigureAwait(false);
                var bytes = Encoding.UTF8.GetBytes(body);
                var head = $"HTTP/1.1 {code} {Reason(code)}\r\nContent-Type: {type}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), ct).ConfigureAwait(false);
                if (method != "HEAD") await stream.WriteAsync(bytes, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or InvalidDataException) { }
        }
    }

    async Task<(int Code, string Type, string Body)> RouteAsync(string method, string path, CancellationToken ct)
    {
        var q = path.IndexOf('?');
        if (q >= 0) path = path[..q];
        const string text = "text/plain; charset=utf-8";
        switch (path)
        {
            case "/livez":
                return IsGet(method) ? (alive() ? (200, text, "ok\n") : (503, text, "reconcile loop stalled\n")) : (405, text, "method not allowed\n");
            case "/readyz":
                return IsGet(method) ? (ready() ? (200, text, "ready\n") : (503, text, "not ready\n")) : (405, text, "method not allowed\n");
            case "/metrics":
                return IsGet(method) ? (200, "text/plain; version=0.0.4; charset=utf-8", metrics()) : (405, text, "method not allowed\n");
            case "/handover":
                if (method is not ("POST" or "GET")) return (405, text, "method not allowed\n");
                HandoverResult r;
                try { r = await handover(ct).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // The preStop hook (or an operator) gets a clear failure instead of a dropped connection.
                    return (500, text, $"handover failed: {e.GetType().Name}\n");
                }
                var ok = r.Outcome is HandoverOutcome.HandedOver or HandoverOutcome.NotMaster or HandoverOutcome.NoHealthyReplica;
                return (ok ? 200 : 500, text, $"{r.Outcome}: {r.Detail} ({r.Took.TotalMilliseconds:0} ms)\n");
            default:
                return (404, text, "not found\n");
        }
    }

    static bool IsGet(string m) => m is "GET" or "HEAD";

    static async Task<(string Method, string Path)> ReadRequestLineAsync(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[8192];
        var filled = 0;
        while (true)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
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
