using System.Diagnostics;
using StackExchange.Redis;

namespace RedisSidecars.Testing;

/// <summary>
/// A client as applications write: one pooled connection to the pod <paramref name="resolve"/> names (the master
/// Service's one ready endpoint, <see cref="SidecarSet.ServiceEndpoint"/>, or the pod labelled master), SET then
/// <c>WAIT 1</c> every millisecond, re-opened only after an error. Remembers every write a replica acknowledged.
/// A connection the server closes (e.g. the sidecar's <c>CLIENT KILL</c> on demotion) counts as an error and is re-opened
/// to wherever <paramref name="resolve"/> points then, as through the Service: StackExchange.Redis would otherwise silently reconnect to the
/// same pod, which a client of the Service never does. A write the master refuses with <c>-NOREPLICAS</c> (a fence) keeps
/// the connection, as a pooled client does, unless the target has moved.
/// </summary>
/// <param name="resolve">Where to write; a fixed node writes to that node directly.</param>
/// <param name="keyPrefix">Keys are <c>{prefix}{n}</c>: two writers on one set need different prefixes.</param>
public sealed class AckedWriter(Func<Node?> resolve, RedisSet set, string keyPrefix = "w:") : IAsyncDisposable
{
    readonly CancellationTokenSource stop = new();
    readonly List<(long N, TimeSpan At)> acked = [];
    readonly List<(long N, TimeSpan Sent, TimeSpan At)> written = [];
    readonly Stopwatch clock = Stopwatch.StartNew();
    Task? loop;
    public int Errors { get; private set; }
    public int Reconnects { get; private set; }
    /// <summary>Writes the server refused with -NOREPLICAS (min-replicas-to-write: a fenced master).</summary>
    public int Refused { get; private set; }

    /// <summary>This writer's clock, which <see cref="Acked"/> and <see cref="Written"/> are timed on.</summary>
    public TimeSpan Elapsed => clock.Elapsed;

    /// <summary>Writes a replica acknowledged (<c>WAIT 1</c> ≥ 1).</summary>
    public IReadOnlyList<(long N, TimeSpan At)> Acked { get { lock (acked) return acked.ToArray(); } }

    public int AckedCount { get { lock (acked) return acked.Count; } }

    /// <summary>The number of the last acknowledged write (0: none yet).</summary>
    public long LastAcked { get { lock (acked) return acked.Count > 0 ? acked[^1].N : 0; } }

    /// <summary>
    /// Writes the master acknowledged (SET answered OK), whatever WAIT said: what a client without WAIT takes as stored.
    /// <c>Sent</c>: when the SET left; <c>At</c>: when its OK came back (a write answered after a cut may have been
    /// replicated before it: only one sent after the cut surely was not).
    /// </summary>
    public IReadOnlyList<(long N, TimeSpan Sent, TimeSpan At)> Written { get { lock (written) return written.ToArray(); } }

    public void Start() => loop = Task.Run(() => RunAsync(stop.Token));

    async Task RunAsync(CancellationToken ct)
    {
        ConnectionMultiplexer? mux = null;
        Node? target = null;
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
                    target = resolve();
                    if (target is null) { await Task.Delay(2, ct); continue; }
                    var o = set.Options(target, 2000);
                    o.AbortOnConnectFail = true;
                    Volatile.Write(ref lost, false);
                    var opened = await ConnectionMultiplexer.ConnectAsync(o);
                    opened.ConnectionFailed += (_, _) => { if (ReferenceEquals(Volatile.Read(ref mux), opened)) Volatile.Write(ref lost, true); };
                    mux = opened;
                    Reconnects++;
                }
                var db = mux.GetDatabase();
                var key = $"{keyPrefix}{++n}";
                var sent = clock.Elapsed;
                await db.ExecuteAsync("SET", key, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
                lock (written) written.Add((n, sent, clock.Elapsed));
                var replicas = (long)await db.ExecuteAsync("WAIT", 1, 200);
                if (replicas >= 1) lock (acked) acked.Add((n, clock.Elapsed));
                await Task.Delay(1, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (RedisServerException e) when (e.Message.StartsWith("NOREPLICAS", StringComparison.Ordinal) && mux is not null)
            {
                Errors++;
                Refused++;
                if (resolve() != target) { await mux.DisposeAsync(); mux = null; }
                else
                {
                    try { await Task.Delay(1, ct); }
                    catch (OperationCanceledException) { break; }
                }
            }
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
        var a = Acked;
        var gap = TimeSpan.Zero;
        for (var i = Math.Max(1, from); i < a.Count; i++) if (a[i].At - a[i - 1].At > gap) gap = a[i].At - a[i - 1].At;
        return gap;
    }

    /// <summary>Acknowledged writes (or the writes numbered <paramref name="writes"/>, e.g. from <see cref="Written"/>) missing or wrong on <paramref name="node"/>.</summary>
    public async Task<IReadOnlyList<long>> LostOnAsync(Node node, IEnumerable<long>? writes = null)
    {
        var lost = new List<long>();
        var o = set.Options(node, 5000);
        o.AbortOnConnectFail = true;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(o);
        var db = mux.GetDatabase();
        foreach (var chunk in (writes ?? Acked.Select(a => a.N)).Chunk(500))
        {
            var values = await db.StringGetAsync(chunk.Select(n => (RedisKey)$"{keyPrefix}{n}").ToArray());
            for (var i = 0; i < chunk.Length; i++)
                if ((string?)values[i] != chunk[i].ToString(System.Globalization.CultureInfo.InvariantCulture)) lost.Add(chunk[i]);
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
