namespace RedisSidecars.KubeApiDouble;

/// <summary>Fault injection: failures, hangs and RBAC denials, all thread-safe.</summary>
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
        public string? Verb { get; init; }
        public string? PathContains { get; init; }
    }

    private readonly record struct Fault(int Status, DateTimeOffset? HangUntil);

    private readonly List<FaultRule> _faults = [];
    private readonly HashSet<(string Verb, string Resource)> _forbidden = [];
    private CancellationTokenSource _releaseHangs = new();

    /// <summary>
    /// The next <paramref name="count"/> API requests that match answer <paramref name="statusCode"/> with a Status
    /// body (429 carries <c>Retry-After: 1</c>). <paramref name="verb"/> matches the HTTP method or the Kubernetes
    /// verb (get, list, patch, create), case-insensitive; <paramref name="pathContains"/> is a substring of the path.
    /// </summary>
    public void FailNext(int count, int statusCode, string? verb = null, string? pathContains = null) =>
        AddFault(new FaultRule { Status = CheckStatus(statusCode), Remaining = count, Verb = verb, PathContains = pathContains });

    /// <summary>Every matching API request until <paramref name="until"/> answers <paramref name="statusCode"/>.</summary>
    public void FailUntil(DateTimeOffset until, int statusCode, string? verb = null, string? pathContains = null) =>
        AddFault(new FaultRule { Status = CheckStatus(statusCode), Expires = until, Verb = verb, PathContains = pathContains });

    /// <summary>Every matching API request for the next <paramref name="duration"/> answers <paramref name="statusCode"/>.</summary>
    public void FailUntil(TimeSpan duration, int statusCode, string? verb = null, string? pathContains = null) =>
        FailUntil(_time.GetUtcNow() + duration, statusCode, verb, pathContains);

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

    /// <summary>Removes every failure, hang and denial, sets <see cref="Latency"/> to zero and releases hung requests.</summary>
    public void ClearFaults()
    {
        lock (_gate)
        {
            _faults.Clear();
            _forbidden.Clear();
            Latency = TimeSpan.Zero;
        }

        _ = ReleaseHangsAsync();
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
            return new Fault(rule.Status, rule.HangUntil ?? (now + rule.HangFor));
        }
    }

    private bool IsForbidden(string verb, string resource)
    {
        lock (_gate)
        {
            return _forbidden.Contains((verb, resource));
        }
    }

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
}
