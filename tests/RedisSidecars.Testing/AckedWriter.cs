using System.Diagnostics;
using StackExchange.Redis;

namespace RedisSidecars.Testing;

/// <summary>
/// A client as applications write: one pooled connection to the pod <paramref name="resolve"/> names (the master
/// Service's one ready endpoint, <see cref="SidecarSet.ServiceEndpoint"/>, or the pod labelled master), SET then
/// <c>WAIT 1</c> every millisecond, re-opened only after an error. Remembers every write a replica acknowledged.
/// A connection the server closes (e.g. the sidecar's <c>CLIENT KILL</c> on demotion) counts as an error and is re-opened
/// to wherever <paramref name="resolve"/> points then, as through the Service: StackExchange.Redis would otherwise
/// silently reconnect to the same pod, which a client of the Service never does.
/// </summary>
public sealed class AckedWriter(Func<Node?> resolve, RedisSet set) : IAsyncDisposable
{
    readonly CancellationTokenSource stop = new();
    readonly List<(long N, TimeSpan At)> acked = [];
    Task? loop;
    public int Errors { get; private set; }
    public int Reconnects { get; private set; }

    public IReadOnlyList<(long N, TimeSpan At)> Acked { get { lock (acked) return acked.ToArray(); } }

    public int AckedCount { get { lock (acked) return acked.Count; } }

    /// <summary>The number of the last acknowledged write (0: none yet).</summary>
    public long LastAcked { get { lock (acked) return acked.Count > 0 ? acked[^1].N : 0; } }

    public void Start() => loop = Task.Run(() => RunAsync(stop.Token));

    async Task RunAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        ConnectionMultiplexer? mux = null;
        var lost = false; // the current connection failed: never let the multiplexer reconnect to the same pod by itself
        long n = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (mux is not null && Volatile.Read(ref lost))
                {
                    Errors++;
                    await mux.DisposeAsync();
                    mux = null;
                }
                if (mux is null)
                {
                    var target = resolve();
                    if (target is null) { await Task.Delay(5, ct); continue; }
                    var o = set.Options(target, 2000);
                    o.AbortOnConnectFail = true;
                    Volatile.Write(ref lost, false);
                    var opened = await ConnectionMultiplexer.ConnectAsync(o);
                    opened.ConnectionFailed += (_, _) => { if (ReferenceEquals(Volatile.Read(ref mux), opened)) Volatile.Write(ref lost, true); };
                    mux = opened;
                    Reconnects++;
                }
                var db = mux.GetDatabase();
                var key = $"w:{++n}";
                await db.ExecuteAsync("SET", key, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var replicas = (long)await db.ExecuteAsync("WAIT", 1, 200);
                if (replicas >= 1) lock (acked) acked.Add((n, clock.Elapsed));
                await Task.Delay(1, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                Errors++;
                if (mux is not null) { await mux.DisposeAsync(); mux = null; }
            }
        }
        if (mux is not null) await mux.DisposeAsync();
    }

    /// <summary>The longest time between two acknowledged writes (from the <paramref name="from"/>-th on).</summary>
    public TimeSpan LongestGap(int from = 0)
    {
        var gap = TimeSpan.Zero;
        lock (acked)
            for (var i = Math.Max(1, from); i < acked.Count; i++) if (acked[i].At - acked[i - 1].At > gap) gap = acked[i].At - acked[i - 1].At;
        return gap;
    }

    /// <summary>Acknowledged writes missing (or wrong) on <paramref name="node"/>.</summary>
    public async Task<IReadOnlyList<long>> LostOnAsync(Node node)
    {
        var lost = new List<long>();
        var o = set.Options(node, 5000);
        o.AbortOnConnectFail = true;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(o);
        var db = mux.GetDatabase();
        foreach (var chunk in Acked.Chunk(500))
        {
            var values = await db.StringGetAsync(chunk.Select(c => (RedisKey)$"w:{c.N}").ToArray());
            for (var i = 0; i < chunk.Length; i++)
                if ((string?)values[i] != chunk[i].N.ToString(System.Globalization.CultureInfo.InvariantCulture)) lost.Add(chunk[i].N);
        }
        return lost;
    }

    /// <summary>Stops the writer (idempotent).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!stop.IsCancellationRequested) await stop.CancelAsync();
        if (loop is not null) await loop;
    }
}
