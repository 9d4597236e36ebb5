using k8s.Autorest;
using Microsoft.Extensions.Logging;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>What a <see cref="ListWatchLoop{T}"/> needs to know about one kind of object.</summary>
/// <param name="Resource">"pods" or "statefulsets" (logs, RBAC rules).</param>
/// <param name="Group">The API group ("" or "apps"), for the RBAC rule of a 403.</param>
/// <param name="ResourceName">The object name RBAC sees (a fieldSelector metadata.name), or null for a label selector.</param>
/// <param name="ListAsync">Lists the objects: items and the list's resourceVersion.</param>
/// <param name="WatchUri">The watch URI (relative to the API base) for a resourceVersion and a timeoutSeconds.</param>
internal sealed record ListWatchTarget<T>(
    string Resource, string Group, string? ResourceName, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> Type,
    Func<CancellationToken, Task<(IReadOnlyList<T> Items, string ResourceVersion)>> ListAsync,
    Func<string, int, string> WatchUri) where T : class;

/// <summary>Where a <see cref="ListWatchLoop{T}"/> delivers what it learns; called from one loop, never concurrently.</summary>
internal interface IListWatchSink<in T> where T : class
{
    /// <summary>A full list: the objects that exist at <paramref name="resourceVersion"/>.</summary>
    void Replace(IReadOnlyList<T> items, string resourceVersion);
    void Apply(WatchEventKind kind, T item);
    /// <summary>The Role does not allow reading these objects.</summary>
    void Forbidden();
    /// <summary>Whether the view is current: true after a list or any watch event, false from a failure until then.</summary>
    void Live(bool live) { }
}

/// <summary>
/// One reflector, as client-go's: list, then watch from the list's resourceVersion (bookmarks on, a random
/// timeoutSeconds); a watch the server ends is reopened from the last resourceVersion without a relist; 410 Gone
/// relists; failures back off with jitter and keep the last state; a slow resync relists as a safety net.
/// </summary>
internal sealed class ListWatchLoop<T>(
    ListWatchTarget<T> target, IListWatchSink<T> sink, KubeApi client, KubeWatchOptions options,
    TimeProvider time, ILogger logger, SidecarMetrics metrics, ForbiddenReporter forbidden) where T : class
{
    /// <summary>A watch that ends this soon without a single change (bookmarks aside) is a quick end: the next one waits a backoff.</summary>
    static readonly TimeSpan QuickEnd = TimeSpan.FromSeconds(1);

    string? rv;
    CancellationTokenSource? reopen; // the open watch's own cancellation (Reprove); null between watches
    long lastLineAt;                 // when the open watch was opened or last delivered a line

    /// <summary>The resourceVersion the next watch starts from (the last list, event or bookmark); null before a list.</summary>
    public string? ResourceVersion => Volatile.Read(ref rv);

    /// <summary>
    /// Reopens the open watch from its resourceVersion now when it has been silent (no event, no bookmark) for at least
    /// <paramref name="silence"/>: a healthy watch loses nothing (the server replays what came after), a silently dead one
    /// (a connection the network dropped without closing it) is replaced now rather than at the idle timeout.
    /// True when it did; false when no watch is open or it spoke within <paramref name="silence"/>.
    /// </summary>
    public bool Reprove(TimeSpan silence, string why)
    {
        var quiet = time.GetElapsedTime(Interlocked.Read(ref lastLineAt));
        if (quiet < silence) return false;
        // One caller takes the open watch's cancellation (several Sentinels announce the same event at once).
        if (Interlocked.Exchange(ref reopen, null) is not { } open) return false;
        try { open.Cancel(); }
        catch (ObjectDisposedException) { return false; } // the watch just ended by itself: the next one is opened anyway
        KubeLog.WatchReproved(logger, target.Resource, (long)quiet.TotalMilliseconds, why);
        return true;
    }

    public async Task RunAsync(CancellationToken ct)
    {
        rv = null;
        var listed = false;
        var lastList = time.GetTimestamp();
        var failures = 0;
        var quickEnds = 0;
        var why = "initial list";
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var verb = "list";
            try
            {
                if (rv is null)
                {
                    using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    bound.CancelAfter(options.RequestTimeout);
                    var (items, listRv) = await target.ListAsync(bound.Token).ConfigureAwait(false);
                    sink.Replace(items, listRv);
                    sink.Live(true);
                    if (listed) metrics.KubeRelists.Increment();
                    listed = true;
                    rv = listRv;
                    lastList = time.GetTimestamp();
                    if (why == "resync") KubeLog.Resynced(logger, target.Resource, items.Count, listRv);
                    else KubeLog.Listed(logger, target.Resource, items.Count, listRv, why);
                }

                verb = "watch";
                var resyncIn = options.ResyncInterval - time.GetElapsedTime(lastList);
                if (resyncIn <= TimeSpan.Zero)
                {
                    (rv, why) = (null, "resync");
                    continue;
                }

                using var resync = new CancellationTokenSource(resyncIn, time);
                using var reproved = new CancellationTokenSource();
                using var watchCt = CancellationTokenSource.CreateLinkedTokenSource(ct, resync.Token, reproved.Token);
                var expired = false;
                var opened = time.GetTimestamp();
                var changes = 0;
                Interlocked.Exchange(ref lastLineAt, opened);
                Volatile.Write(ref reopen, reproved);
                try
                {
                    var timeoutSeconds = (int)options.MinWatchTimeout.TotalSeconds;
                    timeoutSeconds = Math.Max(1, timeoutSeconds + Random.Shared.Next(Math.Max(1, timeoutSeconds)));
                    await foreach (var e in KubeWatch.StreamAsync(client, target.WatchUri(rv, timeoutSeconds), target.Type, options.IdleTimeout, time, watchCt.Token, options.RequestTimeout)
                                       .ConfigureAwait(false))
                    {
                        Interlocked.Exchange(ref lastLineAt, time.GetTimestamp());
                        if (e.Kind is not (WatchEventKind.Bookmark or WatchEventKind.Error)) changes++;
                        if (e.Kind != WatchEventKind.Error) sink.Live(true);
                        if (failures > 0)
                        {
                            KubeLog.WatchRecovered(logger, target.Resource, failures);
                            failures = 0;
                        }

                        switch (e.Kind)
                        {
                            case WatchEventKind.Error when e.Status?.Code == 410:
                                expired = true;
                                break;
                            case WatchEventKind.Error:
                                throw new HttpOperationException($"watch error {e.Status?.Code} {e.Status?.Reason}: {e.Status?.Message}")
                                {
                                    Response = new HttpResponseMessageWrapper(
                                        new HttpResponseMessage((System.Net.HttpStatusCode)(e.Status?.Code ?? 500)) { ReasonPhrase = e.Status?.Reason }, ""),
                                };
                            case WatchEventKind.Bookmark:
                                rv = e.ResourceVersion ?? rv;
                                break;
                            default:
                                sink.Apply(e.Kind, e.Object!);
                                rv = e.ResourceVersion ?? rv;
                                break;
                        }

                        if (expired) break;
                    }
                }
                catch (OperationCanceledException) when (resync.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    (rv, why) = (null, "resync");
                    continue;
                }
                catch (OperationCanceledException) when (reproved.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    metrics.KubeWatchRestarts.Increment();
                    continue; // from the same resourceVersion, at once
                }
                finally
                {
                    Volatile.Write(ref reopen, null);
                }

                metrics.KubeWatchRestarts.Increment();
                if (expired)
                {
                    (rv, why) = (null, "the watch's resourceVersion expired (410 Gone)");
                    continue;
                }

                KubeLog.WatchEnded(logger, target.Resource, rv);
                if (changes == 0 && time.GetElapsedTime(opened) < QuickEnd)
                {
                    // A server that ends every watch at once would otherwise be asked again in a tight loop.
                    quickEnds++;
                    await Task.Delay(Backoff(quickEnds, null), time, ct).ConfigureAwait(false);
                }
                else
                {
                    quickEnds = 0;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (KubeErrors.StatusOf(e) == 410)
            {
                metrics.KubeWatchRestarts.Increment();
                (rv, why) = (null, "410 Gone");
            }
            catch (Exception e) when (KubeErrors.StatusOf(e) == 403)
            {
                metrics.ApiErrors.Increment();
                sink.Live(false);
                forbidden.Report(verb, target.Group, target.Resource, target.ResourceName);
                sink.Forbidden();
                failures++;
                (rv, why) = (null, "after a 403");
                await Task.Delay(options.ForbiddenRetry, time, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Any other failure (connection, timeout, 5xx, a broken stream, even an unexpected answer): keep
                // the last state and the resourceVersion, back off, watch again (a 410 then relists).
                metrics.ApiErrors.Increment();
                sink.Live(false);
                if (verb == "watch") metrics.KubeWatchRestarts.Increment();
                failures++;
                if (rv is null) why = "after a failure";
                var delay = Backoff(failures, KubeErrors.RetryAfter(e));
                KubeLog.WatchFailed(logger, target.Resource, $"{verb}: {KubeErrors.Describe(e)}", (long)delay.TotalMilliseconds);
                await Task.Delay(delay, time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Exponential from <see cref="KubeWatchOptions.InitialBackoff"/>, capped, with 50–100 % jitter; at least a Retry-After.</summary>
    TimeSpan Backoff(int failures, TimeSpan? retryAfter)
    {
        var ceiling = Math.Min(options.MaxBackoff.TotalMilliseconds, options.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20)));
        var delay = TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2)));
        return retryAfter is { } r && r > delay ? (r < options.MaxBackoff ? r : options.MaxBackoff) : delay;
    }
}
