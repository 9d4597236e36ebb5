using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace RedisSidecars.Testing.Chaos;

/// <summary>
/// A pooled client that was idle while its master hung: one raw RESP connection opened before the fault, used
/// again after the old master resumes. Measures how long the old master keeps accepting plain writes (no WAIT)
/// from such a connection: the sidecar's demotion ends with <c>CLIENT KILL TYPE normal</c> exactly so that this
/// window is short; Sentinel only converts a returning old master after several seconds.
/// </summary>
public sealed class StaleClientProbe : IAsyncDisposable
{
    readonly TcpClient tcp;
    readonly NetworkStream stream;

    StaleClientProbe(TcpClient tcp)
    {
        this.tcp = tcp;
        stream = tcp.GetStream();
        stream.ReadTimeout = 2000;
        stream.WriteTimeout = 2000;
    }

    public static async Task<StaleClientProbe?> OpenAsync(RedisSet set, Node master)
    {
        var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(master.Ip, master.Port).WaitAsync(TimeSpan.FromSeconds(2));
            var probe = new StaleClientProbe(tcp);
            if (set.Password is { } pw && !(await probe.CommandAsync("AUTH", pw)).StartsWith('+')) { await probe.DisposeAsync(); return null; }
            if (await probe.CommandAsync("PING") != "+PONG") { await probe.DisposeAsync(); return null; }
            return probe;
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException)
        {
            tcp.Dispose();
            return null;
        }
    }

    /// <summary>
    /// After the old master resumed: SET every 100 ms until a write is refused (-READONLY) or the connection is
    /// gone (killed). Returns how many writes the old master accepted and for how long, and how it ended.
    /// </summary>
    public async Task<(int Accepted, TimeSpan Window, string End)> WriteUntilRefusedAsync(string key, TimeSpan max, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var accepted = 0;
        var last = TimeSpan.Zero;
        while (sw.Elapsed < max)
        {
            string reply;
            try { reply = await CommandAsync("SET", key, accepted.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
            catch (Exception e) when (e is IOException or SocketException or TimeoutException or OperationCanceledException)
            {
                return (accepted, last, "connection closed (" + e.GetType().Name + ")");
            }
            if (reply != "+OK") return (accepted, last, reply.Length == 0 ? "connection closed" : reply);
            accepted++;
            last = sw.Elapsed;
            await Task.Delay(100, ct);
        }
        return (accepted, last, $"still accepting after {max.TotalSeconds:0}s");
    }

    async Task<string> CommandAsync(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await stream.WriteAsync(bytes, cts.Token);
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            var n = await stream.ReadAsync(one, cts.Token);
            if (n == 0) return line.ToString();
            if (one[0] == '\n') return line.ToString().TrimEnd('\r');
            line.Append((char)one[0]);
        }
    }

    public ValueTask DisposeAsync()
    {
        tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
