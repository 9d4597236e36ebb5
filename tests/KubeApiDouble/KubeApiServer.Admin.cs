using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// Admin endpoints under <c>/_double/</c> (no token, not recorded) so another process can drive the double:
/// <code>
/// GET  /_double/timeline[?key=K&amp;value=V]   label changes (+ maxConcurrent and intervalsWithout for K=V)
/// GET  /_double/requests | /_double/events | /_double/pods | /_double/statefulsets
/// GET  /_double/mark                          {"sequence":N,"elapsedMs":…} for /_double/counts?since=N
/// GET  /_double/counts[?since=N]               API requests by verb and resource since the mark
/// GET  /_double/endpoints?namespace=NS&amp;selector=redis-role%3Dmaster   the Service's ready endpoints over time
/// POST /_double/fail?status=503&amp;count=5[&amp;verb=patch&amp;path=/status][&amp;retryAfter=2]   or  ?status=503&amp;seconds=10
/// POST /_double/hang?seconds=30[&amp;count=1&amp;verb=…&amp;path=…]
/// POST /_double/reset?count=1[&amp;verb=…&amp;path=…]   reset the connection of the next matching requests
/// POST /_double/reset-connections            reset every open connection now
/// POST /_double/blackhole[?seconds=10]        and /_double/end-blackhole
/// POST /_double/refuse?seconds=5              close the listener for that long (answered first)
/// POST /_double/close-watches[?abrupt=true&amp;resource=pods]
/// POST /_double/compact                       drop the watch history (older resourceVersions get 410)
/// POST /_double/forbid?verb=patch&amp;resource=pods/status   (and /_double/allow)
/// POST /_double/latency?ms=4
/// POST /_double/watch-expiry?seconds=60 | /_double/bookmark-interval?seconds=5
/// POST /_double/label?namespace=NS&amp;pod=P&amp;key=K[&amp;value=V]   a human edit; no value removes the label
/// POST /_double/rollout?namespace=NS&amp;name=STS     rollout restart: a new update revision
/// POST /_double/recreate?namespace=NS&amp;pod=P       the controller deletes and recreates the pod
/// POST /_double/terminating?namespace=NS&amp;pod=P[&amp;grace=30]
/// POST /_double/clear-faults
/// </code>
/// </summary>
public sealed partial class KubeApiServer
{
    private async Task HandleAdminAsync(HttpContext context)
    {
        var query = context.Request.Query;
        string? Text(string name) => query[name] is [{ Length: > 0 } value, ..] ? value : null;
        int Number(string name, int fallback) =>
            int.TryParse(Text(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : fallback;
        string Required(string name) => Text(name) ?? throw new ArgumentException($"query parameter '{name}' is required");
        var ok = new JsonObject { ["ok"] = true };

        JsonNode? result;
        try
        {
            result = (context.Request.Method, context.Request.Path.Value) switch
            {
                ("GET", "/_double/timeline") => TimelineJson(Text("key"), Text("value")),
                ("GET", "/_double/requests") => new JsonArray([.. Requests.Select(r => (JsonNode)r.ToJson())]),
                ("GET", "/_double/events") => new JsonArray([.. Events.Select(e => (JsonNode)e.ToJson())]),
                ("GET", "/_double/pods") => StoreJson(_pods),
                ("GET", "/_double/statefulsets") => StoreJson(_statefulSets),
                ("GET", "/_double/mark") => MarkRequests() is var m
                    ? new JsonObject { ["sequence"] = m.Sequence, ["elapsedMs"] = m.Elapsed.TotalMilliseconds }
                    : null,
                ("GET", "/_double/counts") => CountRequestsSince(new RequestMark(Number("since", 0), TimeSpan.Zero)).ToJson(),
                ("GET", "/_double/endpoints") => Endpoints(Required("namespace"), Required("selector")).ToJson(),
                ("POST", "/_double/fail") when Text("seconds") is not null => Do(() =>
                    FailUntil(TimeSpan.FromSeconds(Number("seconds", 0)), Number("status", 503), Text("verb"), Text("path"), Number("retryAfter", 1))),
                ("POST", "/_double/fail") => Do(() =>
                    FailNext(Number("count", 1), Number("status", 503), Text("verb"), Text("path"), Number("retryAfter", 1))),
                ("POST", "/_double/hang") => Do(() =>
                    HangNext(Number("count", 1), TimeSpan.FromSeconds(Number("seconds", 3600)), Text("verb"), Text("path"))),
                ("POST", "/_double/reset") => Do(() => ResetNext(Number("count", 1), Text("verb"), Text("path"))),
                ("POST", "/_double/reset-connections") => Do(() => context.Response.OnCompleted(() =>
                {
                    ResetConnections();
                    return Task.CompletedTask;
                })),
                ("POST", "/_double/blackhole") => Do(() => Blackhole(Text("seconds") is null ? null : TimeSpan.FromSeconds(Number("seconds", 0)))),
                ("POST", "/_double/end-blackhole") => Do(EndBlackhole),
                ("POST", "/_double/refuse") => Do(() =>
                {
                    var seconds = TimeSpan.FromSeconds(Number("seconds", 0) is > 0 and var n ? n : throw new ArgumentException("seconds must be > 0"));
                    context.Response.OnCompleted(() => RefuseConnectionsForAsync(seconds));
                }),
                ("POST", "/_double/close-watches") => Do(() => CloseWatches(Text("abrupt") is "true" or "1", Text("resource"))),
                ("POST", "/_double/compact") => Do(CompactHistory),
                ("POST", "/_double/forbid") => Do(() => Forbid(Required("verb"), Required("resource"))),
                ("POST", "/_double/allow") => Do(() => Allow(Required("verb"), Required("resource"))),
                ("POST", "/_double/latency") => Do(() => Latency = TimeSpan.FromMilliseconds(Number("ms", 0))),
                ("POST", "/_double/watch-expiry") => Do(() => WatchExpiry = TimeSpan.FromSeconds(Number("seconds", 1800))),
                ("POST", "/_double/bookmark-interval") => Do(() => BookmarkInterval = TimeSpan.FromSeconds(Number("seconds", 60))),
                ("POST", "/_double/label") => Do(() => SetLabel(Required("namespace"), Required("pod"), Required("key"), Text("value"))),
                ("POST", "/_double/rollout") => new JsonObject { ["updateRevision"] = RolloutRestart(Required("namespace"), Required("name")) },
                ("POST", "/_double/recreate") => RecreatePod(Required("namespace"), Required("pod"), Text("revision")),
                ("POST", "/_double/terminating") => Do(() => MarkTerminating(Required("namespace"), Required("pod"), Number("grace", 30))),
                ("POST", "/_double/clear-faults") => Do(ClearFaults),
                _ => null,
            };
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            await WriteAsync(context, 400, new JsonObject { ["error"] = e.Message }).ConfigureAwait(false);
            return;
        }

        await WriteAsync(context, result is null ? 404 : 200, result ?? new JsonObject { ["error"] = "unknown admin endpoint" })
            .ConfigureAwait(false);

        JsonNode Do(Action action)
        {
            action();
            return ok;
        }
    }

    private JsonObject TimelineJson(string? key, string? value)
    {
        var json = new JsonObject { ["changes"] = Timeline.ToJson() };
        if (key is not null && value is not null)
        {
            json["maxConcurrent"] = Timeline.MaxConcurrent(key, value);
            json["intervalsWithout"] = new JsonArray([.. Timeline.IntervalsWithout(key, value).Select(i => (JsonNode)i.ToJson())]);
        }

        return json;
    }

    private JsonArray StoreJson(SortedDictionary<string, JsonObject> store)
    {
        lock (_gate)
        {
            return [.. store.Values.Select(p => p.DeepClone())];
        }
    }
}
