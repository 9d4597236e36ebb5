using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// The three patch formats of the API server, as pure functions over <see cref="JsonNode"/>s (inputs are
/// never modified). Errors are <see cref="KubeApiException"/>s with the status the real server answers.
/// </summary>
public static class Patches
{
    public const string MergePatchType = "application/merge-patch+json";
    public const string StrategicMergePatchType = "application/strategic-merge-patch+json";
    public const string JsonPatchType = "application/json-patch+json";
    public const string ApplyPatchType = "application/apply-patch+yaml";

    /// <summary>Merge keys of the pod's lists with patch strategy "merge" (path without list indices).</summary>
    public static IReadOnlyDictionary<string, string> PodMergeKeys { get; } = new Dictionary<string, string>
    {
        ["metadata.ownerReferences"] = "uid",
        ["spec.readinessGates"] = "conditionType",
        ["spec.containers"] = "name",
        ["spec.initContainers"] = "name",
        ["spec.ephemeralContainers"] = "name",
        ["spec.volumes"] = "name",
        ["spec.imagePullSecrets"] = "name",
        ["spec.hostAliases"] = "ip",
        ["status.conditions"] = "type",
        ["status.podIPs"] = "ip",
        ["status.hostIPs"] = "ip",
    };

    private static readonly Dictionary<string, string> ContainerListKeys = new()
    {
        ["env"] = "name",
        ["ports"] = "containerPort",
        ["volumeMounts"] = "mountPath",
        ["volumeDevices"] = "devicePath",
    };

    /// <summary>Lists of scalars with strategy "merge": a patch adds its values (a set union).</summary>
    private static readonly HashSet<string> PrimitiveMergeLists = ["metadata.finalizers"];

    /// <summary>RFC 7386: objects merge recursively, null deletes a member, anything else (lists too) replaces.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = MergePatch(result[key], value);
            }
        }

        return result;
    }

    /// <summary>
    /// Strategic merge patch for a pod: like a merge patch, but lists with a merge key (see
    /// <see cref="PodMergeKeys"/>; <c>status.conditions</c> on <c>type</c>) merge item by item; an item
    /// <c>{"$patch":"delete", key: …}</c> removes that item, <c>{"$patch":"replace"}</c> in a list or map
    /// replaces it whole, <c>$deleteFromPrimitiveList/…</c> removes scalars; <c>$setElementOrder/…</c> and
    /// <c>$retainKeys</c> are accepted and ignored.
    /// </summary>
    public static JsonNode? StrategicMergePatch(JsonNode? target, JsonNode? patch) => Strategic(target, patch, "");

    private static JsonNode? Strategic(JsonNode? original, JsonNode? patch, string path)
    {
        if (patch is JsonArray list)
        {
            return StrategicList(original as JsonArray, list, path);
        }

        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        if (Directive(patchObject) == "replace")
        {
            return WithoutDirectives(patchObject);
        }

        var result = original is JsonObject o ? (JsonObject)o.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                if (result[key["$deleteFromPrimitiveList/".Length..]] is JsonArray values && value is JsonArray remove)
                {
                    foreach (var item in values.Where(v => remove.Any(r => JsonNode.DeepEquals(v, r))).ToList())
                    {
                        values.Remove(item);
                    }
                }
            }
            else if (key.StartsWith('$'))
            {
                continue; // $patch (handled above / by the parent), $retainKeys, $setElementOrder/...
            }
            else if (value is null || (value is JsonObject v && Directive(v) == "delete"))
            {
                result.Remove(key);
            }
            else
            {
                result[key] = Strategic(result[key], value, path.Length == 0 ? key : $"{path}.{key}");
            }
        }

        return result;
    }

    private static JsonArray StrategicList(JsonArray? original, JsonArray patch, string path)
    {
        var mergeKey = MergeKey(path);
        if (mergeKey is null)
        {
            if (!PrimitiveMergeLists.Contains(path))
            {
                return (JsonArray)patch.DeepClone(); // atomic list: replaced, as in a merge patch
            }

            var union = original is null ? [] : (JsonArray)original.DeepClone();
            foreach (var item in patch.Where(p => !union.Any(u => JsonNode.DeepEquals(u, p))))
            {
                union.Add(item?.DeepClone());
            }

            return union;
        }

        var replace = patch.Any(p => p is JsonObject o && Directive(o) == "replace");
        var result = original is null || replace ? [] : (JsonArray)original.DeepClone();
        foreach (var item in patch)
        {
            if (item is not JsonObject entry)
            {
                throw new KubeApiException(422, $"unable to merge list {path}: its items must be objects keyed by {mergeKey}");
            }

            if (entry.Count == 1 && Directive(entry) == "replace")
            {
                continue;
            }

            if (!entry.TryGetPropertyValue(mergeKey, out var keyValue) || keyValue is null)
            {
                throw new KubeApiException(422, $"map: {entry.ToJsonString()} does not contain declared merge key: {mergeKey}");
            }

            var index = result.Select((node, i) => (node, i))
                .FirstOrDefault(x => JsonNode.DeepEquals(x.node?[mergeKey], keyValue), (null, -1)).i;
            if (Directive(entry) == "delete")
            {
                if (index >= 0)
                {
                    result.RemoveAt(index);
                }
            }
            else if (index >= 0)
            {
                result[index] = Strategic(result[index], entry, path);
            }
            else
            {
                result.Add(Strategic(null, entry, path));
            }
        }

        return result;
    }

    private static string? MergeKey(string path)
    {
        if (PodMergeKeys.TryGetValue(path, out var key))
        {
            return key;
        }

        return path.Split('.') is ["spec", "containers" or "initContainers" or "ephemeralContainers", var field]
            && ContainerListKeys.TryGetValue(field, out var inner) ? inner : null;
    }

    private static string? Directive(JsonObject o) =>
        o.TryGetPropertyValue("$patch", out var d) && d is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static JsonObject WithoutDirectives(JsonObject o)
    {
        var copy = (JsonObject)o.DeepClone();
        foreach (var key in copy.Select(kv => kv.Key).Where(k => k.StartsWith('$')).ToList())
        {
            copy.Remove(key);
        }

        return copy;
    }

    /// <summary>RFC 6902 (add, remove, replace, move, copy, test) with RFC 6901 pointers (<c>~1</c> is '/', <c>~0</c> is '~').</summary>
    public static JsonNode? JsonPatch(JsonNode? document, JsonArray operations)
    {
        var doc = document?.DeepClone();
        foreach (var node in operations)
        {
            if (node is not JsonObject op)
            {
                throw KubeApiException.BadRequest("json patch: every operation must be an object");
            }

            var name = Text(op, "op");
            var path = Text(op, "path");
            switch (name)
            {
                case "add":
                    doc = Add(doc, path, Value(op));
                    break;
                case "remove":
                    doc = Remove(doc, path, name);
                    break;
                case "replace":
                    _ = Get(doc, path, name);
                    doc = Add(Remove(doc, path, name), path, Value(op));
                    break;
                case "move":
                    var from = Text(op, "from");
                    var moved = Get(doc, from, name)?.DeepClone();
                    doc = Add(Remove(doc, from, name), path, moved);
                    break;
                case "copy":
                    doc = Add(doc, path, Get(doc, Text(op, "from"), name)?.DeepClone());
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(doc, path, name), Value(op)))
                    {
                        throw new KubeApiException(422, $"testing value {path} failed: test failed");
                    }

                    break;
                default:
                    throw new KubeApiException(422, $"Unexpected kind: {name}");
            }
        }

        return doc;
    }

    private static string Text(JsonObject op, string member) =>
        op[member] is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw KubeApiException.BadRequest($"json patch: operation {op.ToJsonString()} has no string \"{member}\"");

    private static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var value) ? value?.DeepClone()
            : throw KubeApiException.BadRequest($"json patch: operation {op.ToJsonString()} has no \"value\"");

    private static string[] Tokens(string pointer) => pointer.Length == 0 ? []
        : pointer[0] != '/' ? throw new KubeApiException(422, $"json patch: invalid path \"{pointer}\"")
        : [.. pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];

    private static JsonNode? Get(JsonNode? doc, string pointer, string op)
    {
        var current = doc;
        foreach (var token in Tokens(pointer))
        {
            current = current switch
            {
                JsonObject o when o.TryGetPropertyValue(token, out var child) => child,
                JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw Missing(op, pointer),
            };
        }

        return current;
    }

    private static JsonNode? Add(JsonNode? doc, string pointer, JsonNode? value)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            return value;
        }

        var parent = Get(doc, ParentPointer(pointer), "add");
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count:
                a.Insert(i, value);
                break;
            default:
                throw Missing("add", pointer);
        }

        return doc;
    }

    private static JsonNode? Remove(JsonNode? doc, string pointer, string op)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            throw new KubeApiException(422, $"{op} operation does not apply: cannot remove the whole document");
        }

        var parent = Get(doc, ParentPointer(pointer), op);
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i < a.Count:
                a.RemoveAt(i);
                break;
            default:
                throw Missing(op, pointer);
        }

        return doc;
    }

    private static string ParentPointer(string pointer) => pointer[..pointer.LastIndexOf('/')];

    private static KubeApiException Missing(string op, string pointer) =>
        new(422, $"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value");
}
