using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace RedisSidecars.Demo;

/// <summary>An error reply (-ERR …, -NOGOODSLAVE …).</summary>
public sealed record RespError(string Message);

/// <summary>The node did not answer (refused, timed out, connection dropped).</summary>
public sealed class RespUnavailableException(string message) : Exception(message);

/// <summary>
/// A tiny RESP2 client on one persistent connection, reconnected on demand: the table polls every node
/// four times a second, and a demoted master's sidecar kills normal clients (CLIENT KILL TYPE normal),
/// so a dropped connection is retried once on a fresh one. Replies: string, long, null, RespError, object?[].
/// </summary>
public sealed class Resp(string host, int port) : IAsyncDisposable
{
    readonly SemaphoreSlim gate = new(1, 1);
    readonly byte[] buffer = new byte[64 * 1024];
    int start, end;
    TcpClient? client;
    NetworkStream? stream;

    public string Address => $"{host}:{port}";

    public async Task<object?> ExecAsync(TimeSpan timeout, CancellationToken ct, params string[] args)
    {
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var fresh = stream is null;
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(timeout);
                try
                {
                    if (stream is null)
                    {
                        client = new TcpClient { NoDelay = true };
                        await client.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
                        stream = client.GetStream();
                        start = end = 0;
                    }
                    await stream.WriteAsync(Encode(args), cts.Token).ConfigureAwait(false);
                    return await ReadValueAsync(cts.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or InvalidDataException or ObjectDisposedException)
                {
                    Drop();
                    ct.ThrowIfCancellationRequested();
                    if (fresh || attempt > 0 || e is OperationCanceledException)
                        throw new RespUnavailableException(e is OperationCanceledException ? "no answer" : e is SocketException s ? s.SocketErrorCode.ToString() : "connection lost");
                }
            }
        }
        finally { gate.Release(); }
    }

    static byte[] Encode(string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    async Task<object?> ReadValueAsync(CancellationToken ct)
    {
        var line = await ReadLineAsync(ct).ConfigureAwait(false);
        if (line.Length == 0) throw new InvalidDataException("empty reply line");
        var rest = line[1..];
        switch (line[0])
        {
            case '+': return rest;
            case '-': return new RespError(rest);
            case ':': return long.Parse(rest, CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(rest, CultureInfo.InvariantCulture);
                if (length < 0) return null;
                var bytes = await ReadExactAsync(length + 2, ct).ConfigureAwait(false);
                return Encoding.UTF8.GetString(bytes, 0, length);
            case '*':
                var count = int.Parse(rest, CultureInfo.InvariantCulture);
                if (count < 0) return null;
                var items = new object?[count];
                for (var i = 0; i < count; i++) items[i] = await ReadValueAsync(ct).ConfigureAwait(false);
                return items;
            default: throw new InvalidDataException($"unexpected reply type '{line[0]}'");
        }
    }

    async Task<string> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            var i = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (i > start && buffer[i - 1] == '\r')
            {
                var line = Encoding.UTF8.GetString(buffer, start, i - 1 - start);
                start = i + 1;
                return line;
            }
            await FillAsync(ct).ConfigureAwait(false);
        }
    }

    async Task<byte[]> ReadExactAsync(int count, CancellationToken ct)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (start == end) await FillAsync(ct).ConfigureAwait(false);
            var n = Math.Min(count - copied, end - start);
            Buffer.BlockCopy(buffer, start, result, copied, n);
            start += n;
            copied += n;
        }
        return result;
    }

    async Task FillAsync(CancellationToken ct)
    {
        if (start > 0)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        if (end == buffer.Length) throw new InvalidDataException("reply line too long");
        var n = await stream!.ReadAsync(buffer.AsMemory(end), ct).ConfigureAwait(false);
        if (n == 0) throw new IOException("connection closed");
        end += n;
    }

    void Drop()
    {
        stream?.Dispose();
        client?.Dispose();
        stream = null;
        client = null;
        start = end = 0;
    }

    public async ValueTask DisposeAsync()
    {
        await gate.WaitAsync().ConfigureAwait(false);
        try { Drop(); } finally { gate.Release(); }
    }
}
