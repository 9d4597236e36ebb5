using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// Fault injection, all thread-safe, modelled on how API outages really look from a client:
/// <list type="bullet">
/// <item>answers: any 4xx/5xx status with a Status body (409 conflicts, 429 with Retry-After, 500/503/504), for a count or a time;</item>
/// <item>hangs: a request accepted and held for a while, then served;</item>
/// <item>blackhole: connections accepted, no request ever answered, open watches never get another event (a dead
/// network path: nothing comes back even after it ends);</item>
/// <item>resets: a request's connection reset without an answer; every open connection reset at once;</item>
/// <item>refusal: the listener closed (connect fails with ECONNREFUSED), every connection reset, until accepting again;</item>
/// <item>watch streams closed, cleanly or abruptly (<see cref="CloseWatches"/>);</item>
/// <item>RBAC denials (<see cref="Forbid"/>, and <see cref="EnforceRole"/>).</item>
/// </list>
/// </summary>
public sealed partial class KubeApiServer
{
    /// <summary>One rule; the first rule that matches a request answers it and uses up one of its <see cref="Remaining"/>.</summary>
    private sealed class FaultRule
    {
        public required int Status { get; init; }
        public int Remaining { get; set; } = int.MaxValue;
        public DateTimeOffset? Expires { get; init; }
        public DateTimeOffset? HangUntil { get; init; }
        public TimeSpan? HangFor { get; init; }
        public bool Reset { get; init; }
        public int RetryAfterSeconds { get; init; } = 1;
        public string? Verb { get; init; }
        public string? PathContains { get; init; }
    }

    private readonly record struct Fault(int Status, DateTimeOffset? HangUntil, bool Reset, int RetryAfterSeconds);

    private readonly List<FaultRule> _faults = [];
    private readonly HashSet<(string Verb, string Resource)> _forbidden = [];
    private readonly HashSet<ConnectionContext> _connections = [];
    private CancellationTokenSource _releaseHangs = new();
    private DateTimeOffset? _blackholeUntil;
    private CancellationTokenSource? _refusal;

    /// <summary>
    /// The next <paramref name="count"/> API requests that match answer <paramref name="statusCode"/> with a Status
    /// body (429 carries <c>Retry-After</c> and <c>details.retryAfterSeconds</c>). <paramref name="verb"/> matches the
    /// HTTP method or the Kubernetes verb (get, list, watch, patch, create), case-insensitive; <paramref name="pathContains"/>
    /// is a substring of the path.
    /// </summary>
    public void FailNext(int count, int statusCode, string? verb = null, string? pathContains = null, int retryAfterSeconds = 1) =>
        AddFault(new FaultRule
        {
            Status = CheckStatus(statusCode), Remaining = count, Verb = verb, PathContains = pathContains, RetryAfterSeconds = retryAfterSeconds,
        });

    /// <summary>Every matching API request until <paramref name="until"/> answers <paramref name="statusCode"/>.</summary>
    public void FailUntil(DateTimeOffset until, int statusCode, string? verb = null, string? pathContains = null, int retryAfterSeconds = 1) =>
        AddFault(new FaultRule
        {
            Status = CheckStatus(statusCode), Expires = until, Verb = verb, PathContains = pathContains, RetryAfterSeconds = retryAfterSeconds,
        });

    /// <summary>Every matching API request for the next <paramref name="duration"/> answers <paramref name="statusCode"/>.</summary>
    public void FailUntil(TimeSpan duration, int statusCode, string? verb = null, string? pathContains = null, int retryAfterSeconds = 1) =>
        FailUntil(_time.GetUtcNow() + duration, statusCode, verb, pathContains, retryAfterSeconds);

    /// <summary>
    /// The next <paramref name="count"/> matching requests are accepted and get no answer until <paramref name="until"/>
    /// (then they are served normally, if the client still waits; a client that gave up is recorded as 499 and
    /// its request is not applied). <see cref="ClearFaults"/> releases them at once.
    /// </summary>
    public void HangNext(int count, DateTimeOffset until, string? verb = null, string? pathContains = null) =>
        AddFault(new FaultRule { Status = 0, Remaining = count, HangUntil = until, Verb = verb, PathContains = pathContains });

    /// <summary>Like <see cref="HangNext(int, DateTimeOffset, string?, string?)"/>, each request held for <paramref name="duration"/> from its arrival.</summary>
    public void HangNext(int count, TimeSpan duration, string? verb = null, string? pathContains = null) =>
        AddFault(new FaultRule { Status = 0, Remaining = count, HangFor = duration, Verb = verb, PathContains = pathContains });

    /// <summary>
    /// The next <paramref name="count"/> matching requests get their connection reset instead of an answer (the
    /// client sees a connection error; nothing is applied). Recorded with status 0 and fault "reset".
    /// </summary>
    public void ResetNext(int count, string? verb = null, string? pathContains = null) =>
        AddFault(new FaultRule { Status = 0, Remaining = count, Reset = true, Verb = verb, PathContains = pathContains });

    /// <summary>
    /// A blackhole for <paramref name="duration"/> (default: until <see cref="EndBlackhole"/> or <see cref="ClearFaults"/>):
    /// connections are still accepted, but no request that arrives is ever answered (it is held until the client
    /// gives up), and every watch open now never gets another byte, not even after the blackhole ends.
    /// </summary>
    public void Blackhole(TimeSpan? duration = null)
    {
        lock (_gate)
        {
            // One locked step: a watch that registers after it sees the blackhole (StreamWatchAsync checks under the lock).
            _blackholeUntil = duration is { } d ? _time.GetUtcNow() + d : DateTimeOffset.MaxValue;
            KillWatches();
        }
    }

    /// <summary>Ends the blackhole: new requests are answered again (requests and watches caught in it stay dead).</summary>
    public void EndBlackhole()
    {
        lock (_gate)
        {
            _blackholeUntil = null;
        }
    }

    /// <summary>Resets every open connection (requests in flight and watch streams included) at once, as a crashing server would.</summary>
    public int ResetConnections()
    {
        List<ConnectionContext> connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        foreach (var connection in connections)
        {
            Reset(connection);
        }

        return connections.Count;
    }

    /// <summary>
    /// The server goes away: the listener closes (a connect now fails with "connection refused") and every open
    /// connection is reset. <see cref="AcceptConnectionsAsync"/> listens again on the same address and port.
    /// </summary>
    public async Task RefuseConnectionsAsync(CancellationToken cancellationToken = default)
    {
        Microsoft.AspNetCore.Builder.WebApplication? app;
        lock (_gate)
        {
            app = _app;
            _app = null;
            _refusal?.Cancel();
            _refusal = new CancellationTokenSource();
        }

        if (app is null)
        {
            return;
        }

        ResetConnections();
        await app.StopAsync(cancellationToken).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Refuses connections for <paramref name="duration"/>, then accepts them again by itself.</summary>
    public async Task RefuseConnectionsForAsync(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        await RefuseConnectionsAsync(cancellationToken).ConfigureAwait(false);
        CancellationToken refusal;
        lock (_gate)
        {
            refusal = _refusal!.Token;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(duration, _time, refusal).ConfigureAwait(false);
                await AcceptConnectionsAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // accepted earlier, refused again or the double stopped
            }
        }, CancellationToken.None);
    }

    /// <summary>Listens again (same address and port) after <see cref="RefuseConnectionsAsync"/>; a no-op while listening.</summary>
    public async Task AcceptConnectionsAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_app is not null || _stopping.IsCancellationRequested)
            {
                return;
            }

            _refusal?.Cancel();
            _refusal = null;
        }

        var app = await ListenAsync(BaseAddress.Port, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_app is null && !_stopping.IsCancellationRequested)
            {
                _app = app;
                return;
            }
        }

        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Denies <paramref name="verb"/> on <paramref name="resource"/> (e.g. "patch", "pods/status"; "create", "events")
    /// with a 403 worded like RBAC's, until <see cref="Allow"/> or <see cref="ClearFaults"/>.
    /// </summary>
    public void Forbid(string verb, string resource)
    {
        lock (_gate)
        {
            _forbidden.Add((verb.ToLowerInvariant(), resource.ToLowerInvariant()));
        }
    }

    public void Allow(string verb, string resource)
    {
        lock (_gate)
        {
            _forbidden.Remove((verb.ToLowerInvariant(), resource.ToLowerInvariant()));
        }
    }

    /// <summary>
    /// Removes every failure, hang, reset rule, denial and the blackhole, restores <see cref="DefaultLatency"/>,
    /// releases hung requests and, if connections are refused, starts accepting them again (in the background).
    /// Enforced Roles stay (see <see cref="StopEnforcingRole"/>).
    /// </summary>
    public void ClearFaults()
    {
        lock (_gate)
        {
            _faults.Clear();
            _forbidden.Clear();
            _blackholeUntil = null;
            Latency = DefaultLatency;
        }

        _ = ReleaseHangsAsync();
        _ = AcceptConnectionsAsync();
    }

    private static int CheckStatus(int statusCode) => statusCode is >= 400 and <= 599
        ? statusCode
        : throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "an injected failure must be a 4xx or 5xx status");

    private void AddFault(FaultRule rule)
    {
        lock (_gate)
        {
            _faults.Add(rule);
        }
    }

    private Fault? TakeFault(string method, string? verb, string path)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            _faults.RemoveAll(f => f.Remaining <= 0 || f.Expires < now);
            var rule = _faults.FirstOrDefault(f =>
                (f.Verb is null || f.Verb.Equals(method, StringComparison.OrdinalIgnoreCase) || f.Verb.Equals(verb, StringComparison.OrdinalIgnoreCase))
                && (f.PathContains is null || path.Contains(f.PathContains, StringComparison.Ordinal)));
            if (rule is null)
            {
                return null;
            }

            rule.Remaining--;
            return new Fault(rule.Status, rule.HangUntil ?? (now + rule.HangFor), rule.Reset, rule.RetryAfterSeconds);
        }
    }

    private bool IsBlackholed()
    {
        lock (_gate)
        {
            return BlackholedLocked();
        }
    }

    private bool BlackholedLocked() => _blackholeUntil is { } until && _time.GetUtcNow() < until;

    private async Task HangAsync(DateTimeOffset until, CancellationToken aborted)
    {
        CancellationToken release;
        lock (_gate)
        {
            release = _releaseHangs.Token;
        }

        var delay = until - _time.GetUtcNow();
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, release, _stopping.Token);
        try
        {
            await Task.Delay(delay, _time, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            // released by ClearFaults: serve the request now
        }
    }

    private async Task ReleaseHangsAsync()
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            old = _releaseHangs;
            _releaseHangs = new CancellationTokenSource();
        }

        await old.CancelAsync().ConfigureAwait(false); // not disposed: a request may be linking to its token right now
    }

    /// <summary>Kestrel connection middleware: every connection is known, so it can be reset.</summary>
    private async Task TrackConnectionAsync(ConnectionDelegate next, ConnectionContext connection)
    {
        lock (_gate)
        {
            _connections.Add(connection);
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _connections.Remove(connection);
            }
        }
    }

    /// <summary>Closes the connection with a TCP RST (linger 0), as a crashed peer or a firewall reject does.</summary>
    private static void Reset(ConnectionContext connection)
    {
        try
        {
            if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
            {
                socket.LingerState = new LingerOption(true, 0);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already closing
        }

        connection.Abort(new ConnectionAbortedException("connection reset by KubeApiDouble"));
    }
}
