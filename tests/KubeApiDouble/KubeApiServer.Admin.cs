using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// Admin endpoints under <c>/_double/</c> (no token, not recorded) so another process can drive the double:
/// <code>
/// GET  /_double/timeline[?key=K&amp;value=V]   label changes (+ maxConcurrent and intervalsWithout for K=V)
/// GET  /_double/requests | /_double/events | /_double/pods
/// POST /_double/fail?status=503&amp;count=5[&amp;verb=patch&amp;path=/status]   or  ?status=503&amp;seconds=10
/// POST /_double/hang?seconds=30[&amp;count=1&amp;verb=…&amp;path=…]
/// POST /_double/forbid?verb=patch&amp;resource=pods/status   (and /_double/allow)
/// POST /_double/latency?ms=200
/// POST /_double/label?namespace=NS&amp;pod=P&amp;key=K[&amp;value=V]   a human edit; no value removes the label
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
                ("GET", "/_double/pods") => PodsJson(),
                ("POST", "/_double/fail") when Text("seconds") is not null => Do(() =>
                    FailUntil(TimeSpan.FromSeconds(Number("seconds", 0)), Number("status", 503), Text("verb"), Text("path"))),
                ("POST", "/_double/fail") => Do(() => FailNext(Number("count", 1), Number("status", 503), Text("verb"), Text("path"))),
                ("POST", "/_double/hang") => Do(() =>
                    HangNext(Number("count", 1), TimeSpan.FromSeconds(Number("seconds", 3600)), Text("verb"), Text("path"))),
                ("POST", "/_double/forbid") => Do(() => Forbid(Required("verb"), Required("resource"))),
                ("POST", "/_double/allow") => Do(() => Allow(Required("verb"), Required("resource"))),
                ("POST", "/_double/latency") => Do(() => Latency = TimeSpan.FromMilliseconds(Number("ms", 0))),
                ("POST", "/_double/label") => Do(() => SetLabel(Required("namespace"), Required("pod"), Required("key"), Text("value"))),
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

    private JsonArray PodsJson()
    {
        lock (_gate)
        {
            return [.. _pods.Values.Select(p => p.DeepClone())];
        }
    }
}
