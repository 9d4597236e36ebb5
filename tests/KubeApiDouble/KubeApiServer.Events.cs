using System.Text.Json;
using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>Events (core/v1 and events.k8s.io/v1): create with the real server's checks, list.</summary>
public sealed partial class KubeApiServer
{
    private JsonObject CreateEvent(string group, string ns, string body, bool dryRun)
    {
        JsonObject ev;
        try
        {
            ev = JsonNode.Parse(body) as JsonObject ?? throw KubeApiException.BadRequest("the body of the request must be an Event object");
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest($"error decoding event: {e.Message}");
        }

        var meta = ev["metadata"] as JsonObject ?? [];
        ev["metadata"] = meta;
        if (meta["namespace"]?.GetValue<string>() is { Length: > 0 } objectNs && objectNs != ns)
        {
            throw KubeApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        var name = meta["name"]?.GetValue<string>() is { Length: > 0 } given ? given
            : meta["generateName"]?.GetValue<string>() is { Length: > 0 } prefix ? prefix + RandomSuffix()
            : throw KubeApiException.Invalid("Event", "", "metadata.name: Required value: name or generateName is required");
        ValidateEvent(group, ns, name, ev);

        lock (_gate)
        {
            var key = $"{group}|{ns}|{name}";
            if (_eventStore.ContainsKey(key))
            {
                throw new KubeApiException(409, $"events \"{name}\" already exists", name, "events", group, reason: "AlreadyExists");
            }

            ev["kind"] = "Event";
            ev["apiVersion"] = group.Length == 0 ? "v1" : $"{group}/v1";
            meta["name"] = name;
            meta["namespace"] = ns;
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Timestamp();
            if (dryRun)
            {
                return ev;
            }

            meta["resourceVersion"] = NextResourceVersion();
            _eventStore[key] = ev;
            _events.Add(new RecordedEvent(_time.GetUtcNow(), group, ns, name, (JsonObject)ev.DeepClone()));
            return (JsonObject)ev.DeepClone();
        }
    }

    /// <summary>The checks of the real server that a sidecar is most likely to trip over.</summary>
    private static void ValidateEvent(string group, string ns, string name, JsonObject ev)
    {
        List<string> errors = [];
        string? Text(string member) => ev[member] is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 ? s : null;
        if (group.Length == 0)
        {
            if (ev["involvedObject"]?["namespace"]?.GetValue<string>() is { Length: > 0 } involvedNs && involvedNs != ns)
            {
                errors.Add($"involvedObject.namespace: Invalid value: \"{involvedNs}\": does not match event.namespace");
            }
        }
        else
        {
            errors.AddRange(new[] { "eventTime", "reportingController", "reportingInstance", "action", "reason" }
                .Where(m => Text(m) is null).Select(m => $"{m}: Required value"));
            if (Text("type") is not ("Normal" or "Warning"))
            {
                errors.Add($"type: Unsupported value: \"{Text("type")}\": supported values: \"Normal\", \"Warning\"");
            }
        }

        if (errors.Count > 0)
        {
            throw KubeApiException.Invalid("Event", name, $"[{string.Join(", ", errors)}]");
        }
    }

    private JsonObject ListEvents(string group, string ns)
    {
        lock (_gate)
        {
            var items = new JsonArray();
            foreach (var ev in _eventStore.Where(kv => kv.Key.StartsWith($"{group}|{ns}|", StringComparison.Ordinal)).Select(kv => kv.Value))
            {
                items.Add(ev.DeepClone());
            }

            return new JsonObject
            {
                ["kind"] = "EventList",
                ["apiVersion"] = group.Length == 0 ? "v1" : $"{group}/v1",
                ["metadata"] = new JsonObject { ["resourceVersion"] = CurrentResourceVersion() },
                ["items"] = items,
            };
        }
    }
}
