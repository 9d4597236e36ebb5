using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// resourceVersions, the watch history and watch streams as the real server's watch cache serves them:
/// <c>GET …?watch=true</c> answers 200 with a chunked stream of <c>{"type":…,"object":…}</c> lines.
/// <list type="bullet">
/// <item>resourceVersion unset or "0": synthetic ADDED events for the current objects, then every change;</item>
/// <item>resourceVersion N: every change after N, or one ERROR event (Status 410 Expired, "too old resource
/// version") and the end of the stream when a change after N has left the history (<see cref="WatchHistory"/>);</item>
/// <item>label and field selectors: an object that starts matching arrives as ADDED, one that stops matching as
/// DELETED (with its previous content and the new resourceVersion);</item>
/// <item><c>allowWatchBookmarks=true</c>: a BOOKMARK every <see cref="BookmarkInterval"/> and one before the stream's timeout;</item>
/// <item>the stream ends after <c>timeoutSeconds</c> or <see cref="WatchExpiry"/>, whichever comes first.</item>
/// </list>
/// </summary>
public sealed partial class KubeApiServer
{
    private readonly SortedDictionary<string, JsonObject> _statefulSets = new(StringComparer.Ordinal);
    private readonly List<Change> _history = [];
    private readonly List<Watcher> _watchers = [];
    private long _compactedRv;

    /// <summary>See <see cref="KubeApiOptions.WatchExpiry"/>; applies to watches opened after the change.</summary>
    public TimeSpan WatchExpiry { get; set; }

    /// <summary>See <see cref="KubeApiOptions.BookmarkInterval"/>; applies to watches opened after the change.</summary>
    public TimeSpan BookmarkInterval { get; set; }

    /// <summary>See <see cref="KubeApiOptions.WatchHistory"/>.</summary>
    public TimeSpan WatchHistory { get; set; }

    /// <summary>The current resourceVersion (etcd's revision: one counter for every kind).</summary>
    public long ResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _resourceVersion;
            }
        }
    }

    /// <summary>Watch streams open now (blackholed ones excluded: they are dead).</summary>
    public int OpenWatches
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    /// <summary>Drops the whole watch history (etcd compaction): a watch from any older resourceVersion gets 410 Expired.</summary>
    public void CompactHistory()
    {
        lock (_gate)
        {
            _history.Clear();
            _compactedRv = _resourceVersion;
        }
    }

    /// <summary>
    /// Ends every open watch stream: cleanly (the response ends, as on a timeout) or, with <paramref name="abrupt"/>,
    /// by aborting its connection (the client sees a reset mid-stream). <paramref name="resource"/> limits it to
    /// "pods" or "statefulsets".
    /// </summary>
    public int CloseWatches(bool abrupt = false, string? resource = null)
    {
        lock (_gate)
        {
            var closing = _watchers.Where(w => resource is null || w.Kind.Resource == resource).ToList();
            foreach (var w in closing)
            {
                w.End = abrupt ? WatchEnd.Abort : WatchEnd.Clean;
                w.Interrupt.Cancel();
                _watchers.Remove(w);
            }

            return closing.Count;
        }
    }

    private enum WatchEnd
    {
        None,
        Clean,
        Abort,
        Dead,
    }

    private sealed record Kind(string Resource, string Group, string Name, string ListKind, string ApiVersion, string[] Fields);

    private static class Kinds
    {
        public static readonly Kind Pods = new("pods", "", "Pod", "PodList", "v1",
            ["metadata.name", "metadata.namespace", "status.phase", "status.podIP", "spec.nodeName", "spec.serviceAccountName", "spec.restartPolicy"]);

        public static readonly Kind StatefulSets = new("statefulsets", "apps", "StatefulSet", "StatefulSetList", "apps/v1",
            ["metadata.name", "metadata.namespace"]);
    }

    private SortedDictionary<string, JsonObject> StoreOf(Kind kind) => ReferenceEquals(kind, Kinds.Pods) ? _pods : _statefulSets;

    /// <summary>One stored change; <see cref="Before"/> null = created, <see cref="After"/> null = deleted.</summary>
    private sealed record Change(long Rv, DateTimeOffset Time, Kind Kind, string Namespace, JsonObject? Before, JsonObject? After);

    private sealed class Watcher(Kind kind, string ns, LabelSelector labels, LabelSelector fields)
    {
        public Kind Kind { get; } = kind;

        public string Namespace { get; } = ns;

        public LabelSelector Labels { get; } = labels;

        public LabelSelector Fields { get; } = fields;

        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

        public CancellationTokenSource Interrupt { get; } = new();

        public WatchEnd End { get; set; }
    }

    /// <summary>Records a change in the history and hands it to every watch it concerns; call under <see cref="_gate"/>.</summary>
    /// <remarks>A created or updated object already carries its new resourceVersion; a deletion takes the next one here.</remarks>
    private void Publish(Kind kind, JsonObject? before, JsonObject? after)
    {
        var rv = after is null ? ++_resourceVersion : _resourceVersion;
        var ns = (after ?? before)!["metadata"]!["namespace"]!.GetValue<string>();
        var change = new Change(rv, _time.GetUtcNow(), kind, ns, before, after);
        _history.Add(change);
        PruneHistory();
        foreach (var w in _watchers.Where(w => ReferenceEquals(w.Kind, kind) && w.Namespace == ns))
        {
            if (EventLine(w, change) is { } line)
            {
                w.Lines.Writer.TryWrite(line);
            }
        }
    }

    private void PruneHistory()
    {
        var oldest = _time.GetUtcNow() - WatchHistory;
        var drop = 0;
        while (drop < _history.Count && _history[drop].Time < oldest)
        {
            _compactedRv = _history[drop].Rv;
            drop++;
        }

        _history.RemoveRange(0, drop);
    }

    /// <summary>The event this watcher sees for a change, by its selectors (the watch cache's rules), or null.</summary>
    private static string? EventLine(Watcher w, Change change)
    {
        var was = change.Before is not null && Selects(change.Before, w.Namespace, w.Labels, w.Fields, w.Kind);
        var now = change.After is not null && Selects(change.After, w.Namespace, w.Labels, w.Fields, w.Kind);
        if (now)
        {
            return Line(was ? "MODIFIED" : "ADDED", change.After!);
        }

        if (!was)
        {
            return null;
        }

        var gone = (JsonObject)change.Before!.DeepClone();
        gone["metadata"]!["resourceVersion"] = change.Rv.ToString(CultureInfo.InvariantCulture);
        return Line("DELETED", gone);
    }

    private static string Line(string type, JsonNode item) =>
        new JsonObject { ["type"] = type, ["object"] = item.DeepClone() }.ToJsonString(KubeStatus.JsonOptions);

    private JsonObject Bookmark(Kind kind)
    {
        var meta = new JsonObject { ["resourceVersion"] = CurrentResourceVersion(), ["creationTimestamp"] = null };
        return ReferenceEquals(kind, Kinds.Pods)
            ? new JsonObject
            {
                ["kind"] = kind.Name, ["apiVersion"] = kind.ApiVersion, ["metadata"] = meta,
                ["spec"] = new JsonObject { ["containers"] = null }, ["status"] = new JsonObject(),
            }
            : new JsonObject
            {
                ["kind"] = kind.Name, ["apiVersion"] = kind.ApiVersion, ["metadata"] = meta,
                ["spec"] = new JsonObject
                {
                    ["selector"] = null,
                    ["template"] = new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
                        ["spec"] = new JsonObject { ["containers"] = null },
                    },
                    ["serviceName"] = "",
                },
                ["status"] = new JsonObject { ["replicas"] = 0, ["availableReplicas"] = 0 },
            };
    }

    private async Task StreamWatchAsync(HttpContext context, Route route, IQueryCollection query, Action<string> fault)
    {
        var kind = route.Operation == Operation.WatchPods ? Kinds.Pods : Kinds.StatefulSets;
        var (labels, fields) = ParseSelectors(kind, query["labelSelector"], query["fieldSelector"]);
        var rvText = query["resourceVersion"].ToString();
        long? from = null;
        if (rvText is not ("" or "0"))
        {
            from = long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw KubeApiException.BadRequest($"resourceVersion: Invalid value: \"{rvText}\": must be a valid resourceVersion");
        }

        var timeout = WatchExpiry;
        if (query["timeoutSeconds"].ToString() is { Length: > 0 } seconds)
        {
            timeout = int.TryParse(seconds, NumberStyles.None, CultureInfo.InvariantCulture, out var s)
                ? TimeSpan.FromSeconds(Math.Min(s, WatchExpiry.TotalSeconds))
                : throw KubeApiException.BadRequest($"timeoutSeconds: Invalid value: \"{seconds}\": must be a non-negative integer");
        }

        var bookmarks = query["allowWatchBookmarks"] is ["true" or "1"];
        var watcher = new Watcher(kind, route.Namespace, labels, fields);
        List<string> initial = [];
        var expired = false;
        lock (_gate)
        {
            PruneHistory();
            if (from is null)
            {
                initial.AddRange(StoreOf(kind).Values.Where(o => Selects(o, route.Namespace, labels, fields, kind)).Select(o => Line("ADDED", o)));
            }
            else if (from < _compactedRv)
            {
                expired = true;
                initial.Add(Line("ERROR", KubeStatus.Failure(410, $"too old resource version: {from} ({_compactedRv + 1})")));
            }
            else
            {
                initial.AddRange(_history.Where(c => c.Rv > from && ReferenceEquals(c.Kind, kind) && c.Namespace == route.Namespace)
                    .Select(c => EventLine(watcher, c)).OfType<string>());
            }

            if (BlackholedLocked())
            {
                watcher.End = WatchEnd.Dead; // it arrived as the blackhole began: it never answers
            }
            else if (!expired)
            {
                _watchers.Add(watcher);
            }
        }

        if (watcher.End == WatchEnd.Dead)
        {
            fault("blackhole");
            await HoldAsync(context.RequestAborted).ConfigureAwait(false);
        }

        var aborted = context.RequestAborted;
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted, _stopping.Token, deadline.Token, watcher.Interrupt.Token);
        using var bookmarkTimer = bookmarks && !expired
            ? _time.CreateTimer(_ => EnqueueBookmark(watcher), null, BookmarkInterval, BookmarkInterval)
            : null;
        try
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync(aborted).ConfigureAwait(false);
            // The status and headers go out now, as the real server flushes them before the first event: a watch with
            // nothing to send yet (from the current resourceVersion, at rest) is answered, not left waiting for its first line.
            await context.Response.Body.FlushAsync(aborted).ConfigureAwait(false);
            foreach (var line in initial)
            {
                await WriteLineAsync(context, line).ConfigureAwait(false);
            }

            if (expired)
            {
                fault("watch 410");
                return;
            }

            while (true)
            {
                var line = await watcher.Lines.Reader.ReadAsync(stop.Token).ConfigureAwait(false);
                await WriteLineAsync(context, line).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !aborted.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            // the stream's end: timeout, expiry, close, abort or blackhole
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(watcher);
            }
        }

        switch (watcher.End)
        {
            case WatchEnd.Dead:
                fault("blackhole");
                await HoldAsync(aborted).ConfigureAwait(false);
                break;
            case WatchEnd.Abort:
                fault("watch reset");
                context.Abort();
                throw new ConnectionResetException();
            case WatchEnd.Clean:
                fault("watch closed");
                break;
            default:
                if (bookmarks)
                {
                    string last;
                    lock (_gate)
                    {
                        last = Line("BOOKMARK", Bookmark(kind));
                    }

                    await WriteLineAsync(context, last).ConfigureAwait(false);
                }

                break;
        }
    }

    private void EnqueueBookmark(Watcher watcher)
    {
        lock (_gate)
        {
            // Under the lock: every change up to this resourceVersion is already in the watcher's queue.
            watcher.Lines.Writer.TryWrite(Line("BOOKMARK", Bookmark(watcher.Kind)));
        }
    }

    private static async Task WriteLineAsync(HttpContext context, string line)
    {
        await context.Response.WriteAsync(line + "\n", context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Marks every open watch dead (it never sends again and never ends): part of a blackhole; call under <see cref="_gate"/>.</summary>
    private void KillWatches()
    {
        foreach (var w in _watchers)
        {
            w.End = WatchEnd.Dead;
            w.Interrupt.Cancel();
        }

        _watchers.Clear();
    }
}
