using System.Globalization;
using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>What a StatefulSet pod looks like once kubelet runs it, and the API server's rules for updating one.</summary>
internal static class PodTemplate
{
    private const string SpecForbidden =
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
        + "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
        + "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

    public static JsonObject Create(
        string ns, string name, IReadOnlyDictionary<string, string> labels, IReadOnlyList<string> gates, string now, int index)
    {
        var dash = name.LastIndexOf('-');
        var owner = dash > 0 && int.TryParse(name[(dash + 1)..], out _) ? name[..dash] : name;
        var podIp = $"10.244.0.{10 + (index % 240)}";
        JsonObject Condition(string type, string status, string? reason = null, string? message = null) => new()
        {
            ["type"] = type,
            ["status"] = status,
            ["lastProbeTime"] = null,
            ["lastTransitionTime"] = now,
            ["reason"] = reason,
            ["message"] = message,
        };
        var ready = gates.Count == 0
            ? Condition("Ready", "True")
            : Condition("Ready", "False", "ReadinessGatesNotReady",
                $"corresponding condition of pod readiness gate \"{gates[0]}\" does not exist.");
        var spec = new JsonObject
        {
            ["containers"] = new JsonArray(new JsonObject
            {
                ["name"] = "redis",
                ["image"] = "redis:7.2",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "redis", ["containerPort"] = 6379, ["protocol"] = "TCP" }),
                ["resources"] = new JsonObject(),
                ["terminationMessagePath"] = "/dev/termination-log",
                ["terminationMessagePolicy"] = "File",
                ["imagePullPolicy"] = "IfNotPresent",
            }),
            ["restartPolicy"] = "Always",
            ["terminationGracePeriodSeconds"] = 30,
            ["dnsPolicy"] = "ClusterFirst",
            ["serviceAccountName"] = "redis",
            ["nodeName"] = "node-1",
            ["hostname"] = name,
            ["subdomain"] = $"{owner}-headless",
            ["schedulerName"] = "default-scheduler",
            ["enableServiceLinks"] = true,
        };
        if (gates.Count > 0)
        {
            spec["readinessGates"] = new JsonArray([.. gates.Select(g => (JsonNode)new JsonObject { ["conditionType"] = g })]);
        }

        var conditions = new JsonArray(
            Condition("PodReadyToStartContainers", "True"),
            Condition("Initialized", "True"),
            ready,
            Condition("ContainersReady", "True"),
            Condition("PodScheduled", "True"));
        foreach (var condition in conditions.OfType<JsonObject>().Where(c => c["reason"] is null).ToList())
        {
            condition.Remove("reason");
            condition.Remove("message");
        }

        return new JsonObject
        {
            ["kind"] = "Pod",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["generateName"] = $"{owner}-",
                ["namespace"] = ns,
                ["uid"] = Guid.NewGuid().ToString(),
                ["resourceVersion"] = "0",
                ["generation"] = 1,
                ["creationTimestamp"] = now,
                ["labels"] = new JsonObject([.. labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]),
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "apps/v1",
                    ["kind"] = "StatefulSet",
                    ["name"] = owner,
                    ["uid"] = Guid.NewGuid().ToString(),
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                }),
            },
            ["spec"] = spec,
            ["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["conditions"] = conditions,
                ["hostIP"] = "192.168.49.2",
                ["podIP"] = podIp,
                ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = podIp }),
                ["startTime"] = now,
                ["qosClass"] = "BestEffort",
                ["containerStatuses"] = new JsonArray(new JsonObject
                {
                    ["name"] = "redis",
                    ["ready"] = true,
                    ["restartCount"] = 0,
                    ["image"] = "docker.io/library/redis:7.2",
                    ["imageID"] = "docker.io/library/redis@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                    ["containerID"] = $"containerd://{Guid.NewGuid():N}",
                    ["started"] = true,
                    ["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } },
                }),
            },
        };
    }

    /// <summary>
    /// Applies the API server's update rules to <paramref name="next"/> in place: server-owned metadata is kept,
    /// name/namespace cannot change (400), labels must be valid (422), the spec is immutable except for
    /// container images and a few fields (422), and a spec change bumps <c>metadata.generation</c>.
    /// </summary>
    public static void ValidateUpdate(JsonObject current, JsonObject next, string name)
    {
        var oldMeta = (JsonObject)current["metadata"]!;
        var meta = (JsonObject)next["metadata"]!;
        if (meta["name"]?.ToString() is { } newName && newName != name)
        {
            throw KubeApiException.BadRequest($"the name of the object ({newName}) does not match the name on the URL ({name})");
        }

        if (meta["namespace"]?.ToString() is { } newNs && newNs != oldMeta["namespace"]!.ToString())
        {
            throw KubeApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        foreach (var field in new[] { "name", "namespace", "uid", "creationTimestamp", "generation" })
        {
            meta[field] = oldMeta[field]?.DeepClone();
        }

        next["kind"] = "Pod";
        next["apiVersion"] = "v1";
        ValidateLabels(meta["labels"], name);

        var oldSpec = current["spec"];
        if (!JsonNode.DeepEquals(WithoutMutableFields(next["spec"], oldSpec), oldSpec))
        {
            throw KubeApiException.Invalid("Pod", name, SpecForbidden);
        }

        if (!JsonNode.DeepEquals(next["spec"], oldSpec))
        {
            meta["generation"] = long.Parse(oldMeta["generation"]!.ToJsonString(), CultureInfo.InvariantCulture) + 1;
        }
    }

    private static void ValidateLabels(JsonNode? labels, string name)
    {
        if (labels is null)
        {
            return;
        }

        if (labels is not JsonObject map)
        {
            throw KubeApiException.BadRequest("json: cannot unmarshal into Go struct field ObjectMeta.metadata.labels of type map[string]string");
        }

        List<string> errors = [];
        foreach (var (key, value) in map)
        {
            if (value is not JsonValue v || !v.TryGetValue(out string? text))
            {
                throw KubeApiException.BadRequest(
                    $"json: cannot unmarshal {value?.GetValueKind().ToString().ToLowerInvariant()} into Go struct field ObjectMeta.metadata.labels of type string");
            }

            if (!LabelRules.IsValidKey(key))
            {
                errors.Add($"metadata.labels: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', "
                    + "and must start and end with an alphanumeric character");
            }

            if (!LabelRules.IsValidValue(text))
            {
                errors.Add($"metadata.labels: Invalid value: \"{text}\": {LabelRules.ValueError}");
            }
        }

        if (errors.Count > 0)
        {
            throw KubeApiException.Invalid("Pod", name, errors.Count == 1 ? errors[0] : $"[{string.Join(", ", errors)}]");
        }
    }

    /// <summary>The new spec with the fields a pod update may change copied from the old spec.</summary>
    private static JsonNode? WithoutMutableFields(JsonNode? spec, JsonNode? oldSpec)
    {
        if (spec is not JsonObject s || oldSpec is not JsonObject old)
        {
            return spec?.DeepClone();
        }

        var copy = (JsonObject)s.DeepClone();
        foreach (var list in new[] { "containers", "initContainers" })
        {
            if (copy[list] is JsonArray now && old[list] is JsonArray before && now.Count == before.Count)
            {
                for (var i = 0; i < now.Count; i++)
                {
                    if (now[i] is JsonObject c)
                    {
                        c["image"] = before[i]?["image"]?.DeepClone();
                    }
                }
            }
        }

        foreach (var field in new[] { "activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds" })
        {
            copy.Remove(field);
            if (old[field] is { } value)
            {
                copy[field] = value.DeepClone();
            }
        }

        return copy;
    }
}
