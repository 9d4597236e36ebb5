using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>Pods: the store, the admin edits tests make (as a human, kubelet or controller would) and the API's patch.</summary>
public sealed partial class KubeApiServer
{
    /// <summary>The label every StatefulSet pod carries with its own name.</summary>
    public const string PodNameLabel = "statefulset.kubernetes.io/pod-name";

    /// <summary>The label every StatefulSet pod carries with the revision of the template it was created from.</summary>
    public const string RevisionLabel = "controller-revision-hash";

    /// <summary>The label StatefulSet pods carry with their ordinal (Kubernetes 1.28+).</summary>
    public const string PodIndexLabel = "apps.kubernetes.io/pod-index";

    /// <summary>
    /// Creates a running pod as a StatefulSet + kubelet would leave it: labels, one container, readiness gates
    /// (then kubelet's <c>Ready</c> is False, reason ReadinessGatesNotReady, until the gate conditions are
    /// True), phase Running, conditions PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled.
    /// A pod named <c>STEM-N</c> also gets the StatefulSet controller's labels (<see cref="PodNameLabel"/>,
    /// <see cref="PodIndexLabel"/>, <see cref="RevisionLabel"/>): the revision is the update revision of StatefulSet
    /// STEM when the double has it, else <paramref name="revision"/>, else a fixed <c>STEM-…</c> hash. Labels
    /// in <paramref name="labels"/> win.
    /// </summary>
    public JsonObject AddPod(
        string @namespace, string name, IReadOnlyDictionary<string, string>? labels = null, IEnumerable<string>? readinessGateConditionTypes = null,
        string? revision = null)
    {
        var gates = readinessGateConditionTypes?.ToList() ?? [];
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            EnsureValidLabel(key, value);
        }

        lock (_gate)
        {
            if (_pods.ContainsKey(Key(@namespace, name)))
            {
                throw new InvalidOperationException($"pods \"{name}\" already exists in namespace {@namespace}");
            }

            var all = new Dictionary<string, string>(StringComparer.Ordinal);
            if (StatefulSetOrdinal(name) is var (stem, ordinal))
            {
                all[PodNameLabel] = name;
                all[PodIndexLabel] = ordinal.ToString(CultureInfo.InvariantCulture);
                all[RevisionLabel] = StatefulSetRevision(@namespace, stem) ?? revision ?? DefaultRevision(stem);
            }

            foreach (var (key, value) in labels ?? new Dictionary<string, string>())
            {
                all[key] = value;
            }

            var pod = PodTemplate.Create(@namespace, name, all, gates, Timestamp(), _pods.Count);
            StartProbedContainersUnready(@namespace, name, pod);
            pod["metadata"]!["resourceVersion"] = NextResourceVersion();
            _pods[Key(@namespace, name)] = pod;
            RecordLabelChanges(@namespace, name, null, pod, "create");
            Publish(Kinds.Pods, null, pod);
            AfterPodChange(@namespace, name, null, pod);
            return (JsonObject)pod.DeepClone();
        }
    }

    /// <summary>A copy of the stored pod, or null.</summary>
    public JsonObject? GetPod(string @namespace, string name)
    {
        lock (_gate)
        {
            return _pods.TryGetValue(Key(@namespace, name), out var pod) ? (JsonObject)pod.DeepClone() : null;
        }
    }

    public string? GetLabel(string @namespace, string name, string key) =>
        GetPod(@namespace, name)?["metadata"]?["labels"]?[key]?.GetValue<string>();

    /// <summary>The status of condition <paramref name="type"/> on the stored pod ("True", "False", …), or null when absent.</summary>
    public string? GetConditionStatus(string @namespace, string name, string type) =>
        GetPod(@namespace, name) is { } pod ? ConditionStatus(pod, type) : null;

    /// <summary>Deletes a pod at once (its labels leave the timeline as "delete"; watches get DELETED).</summary>
    public bool RemovePod(string @namespace, string name)
    {
        lock (_gate)
        {
            if (!_pods.Remove(Key(@namespace, name), out var pod))
            {
                return false;
            }

            RecordLabelChanges(@namespace, name, pod, null, "delete");
            Publish(Kinds.Pods, pod, null);
            AfterPodChange(@namespace, name, pod, null);
            return true;
        }
    }

    /// <summary>A human's <c>kubectl label</c>: sets (or with null removes) a label; recorded as source "human".</summary>
    public void SetLabel(string @namespace, string name, string key, string? value)
    {
        if (value is not null)
        {
            EnsureValidLabel(key, value);
        }

        Mutate(@namespace, name, "human", pod =>
        {
            var meta = (JsonObject)pod["metadata"]!;
            var labels = meta["labels"] as JsonObject ?? [];
            meta["labels"] = labels;
            if (value is null)
            {
                labels.Remove(key);
            }
            else
            {
                labels[key] = value;
            }
        });
    }

    /// <summary>A kubelet-style status edit: sets condition <paramref name="type"/> (added if missing).</summary>
    public void SetCondition(string @namespace, string name, string type, string status, string? reason = null, string? message = null) =>
        Mutate(@namespace, name, "kubelet", pod => SetConditionIn(pod, type, status, reason, message));

    /// <summary>
    /// What <c>kubectl delete pod</c> does first: sets <c>metadata.deletionTimestamp</c> (now + grace) and
    /// <c>deletionGracePeriodSeconds</c>; watches see MODIFIED, endpoints drop the pod. The pod stays until
    /// <see cref="RemovePod"/> or <see cref="RecreatePod"/>.
    /// </summary>
    public void MarkTerminating(string @namespace, string name, int gracePeriodSeconds = 30) =>
        Mutate(@namespace, name, "terminate", pod =>
        {
            var meta = (JsonObject)pod["metadata"]!;
            meta["deletionTimestamp"] = (_time.GetUtcNow() + TimeSpan.FromSeconds(gracePeriodSeconds)).UtcDateTime
                .ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            meta["deletionGracePeriodSeconds"] = gracePeriodSeconds;
        });

    /// <summary>PATCH/POST/PUT requests whose path is this pod or one of its subresources.</summary>
    public int WriteCount(string @namespace, string pod) =>
        Requests.Count(r => r.IsWrite && r.Namespace == @namespace && r.Pod == pod);

    /// <summary>Write requests (PATCH/POST/PUT) per pod, keyed "namespace/pod".</summary>
    public IReadOnlyDictionary<string, int> WritesPerPod() => Requests
        .Where(r => r.IsWrite && r.Pod is not null)
        .GroupBy(r => Key(r.Namespace!, r.Pod!))
        .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    // ---------------------------------------------------------------- the API

    private JsonObject GetPodOrThrow(string ns, string name) =>
        GetPod(ns, name) ?? throw KubeApiException.NotFound("pods", name);

    private JsonObject PatchPod(string ns, string name, bool statusOnly, string? contentType, string body, bool dryRun)
    {
        var mediaType = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not (Patches.MergePatchType or Patches.StrategicMergePatchType or Patches.JsonPatchType))
        {
            throw new KubeApiException(415, $"the body of the request was in an unknown format - accepted media types include: "
                + $"{Patches.JsonPatchType}, {Patches.MergePatchType}, {Patches.StrategicMergePatchType}");
        }

        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest($"error decoding patch: {e.Message}");
        }

        lock (_gate)
        {
            var current = _pods.GetValueOrDefault(Key(ns, name)) ?? throw KubeApiException.NotFound("pods", name);
            var patched = (mediaType, patch) switch
            {
                (Patches.JsonPatchType, JsonArray operations) => Patches.JsonPatch(current, operations),
                (Patches.MergePatchType, JsonObject) => Patches.MergePatch(current, patch),
                (Patches.StrategicMergePatchType, JsonObject) => Patches.StrategicMergePatch(current, patch),
                _ => throw KubeApiException.BadRequest(
                    $"error decoding patch: a {mediaType} body must be a JSON {(mediaType == Patches.JsonPatchType ? "array" : "object")}"),
            };
            if (patched is not JsonObject { } candidate || candidate["metadata"] is not JsonObject candidateMeta)
            {
                throw KubeApiException.Invalid("Pod", name, "metadata: Required value");
            }

            var currentRv = current["metadata"]!["resourceVersion"]!.GetValue<string>();
            var requestedRv = candidateMeta["resourceVersion"] is JsonValue rv && rv.TryGetValue(out string? s) ? s : null;
            if (!string.IsNullOrEmpty(requestedRv) && requestedRv != currentRv)
            {
                throw KubeApiException.Conflict("pods", name);
            }

            JsonObject next;
            if (statusOnly)
            {
                // pods/status: only status changes; metadata and spec changes are dropped.
                next = (JsonObject)current.DeepClone();
                next["status"] = candidate["status"]?.DeepClone();
            }
            else
            {
                // the main resource: status changes are dropped; server-owned metadata is kept.
                next = candidate;
                next["status"] = current["status"]?.DeepClone();
                PodTemplate.ValidateUpdate(current, next, name);
                next["metadata"]!["deletionTimestamp"] = current["metadata"]!["deletionTimestamp"]?.DeepClone();
                next["metadata"]!["deletionGracePeriodSeconds"] = current["metadata"]!["deletionGracePeriodSeconds"]?.DeepClone();
                RemoveNulls((JsonObject)next["metadata"]!);
            }

            return dryRun ? next : Commit(ns, name, current, next, statusOnly ? "status-patch" : "patch");
        }
    }

    private static void RemoveNulls(JsonObject o)
    {
        foreach (var key in o.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList())
        {
            o.Remove(key);
        }
    }

    /// <summary>Stores <paramref name="next"/> unless it equals the current pod (a no-op keeps the resourceVersion).</summary>
    private JsonObject Commit(string ns, string name, JsonObject current, JsonObject next, string source)
    {
        next["metadata"]!["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
        if (JsonNode.DeepEquals(current, next))
        {
            return (JsonObject)current.DeepClone();
        }

        next["metadata"]!["resourceVersion"] = NextResourceVersion();
        _pods[Key(ns, name)] = next;
        RecordLabelChanges(ns, name, current, next, source);
        Publish(Kinds.Pods, current, next);
        var answer = (JsonObject)next.DeepClone();
        AfterPodChange(ns, name, current, next);
        return answer;
    }

    private void Mutate(string ns, string name, string source, Action<JsonObject> edit)
    {
        lock (_gate)
        {
            var current = _pods.GetValueOrDefault(Key(ns, name))
                ?? throw new InvalidOperationException($"pods \"{name}\" not found in namespace {ns}");
            var next = (JsonObject)current.DeepClone();
            edit(next);
            Commit(ns, name, current, next, source);
        }
    }

    /// <summary>What follows a pod change in a cluster: the kubelet's Ready, the StatefulSet's status, the endpoints history.</summary>
    private void AfterPodChange(string ns, string name, JsonObject? before, JsonObject? after)
    {
        RecordPodState(ns, name, after);
        if (before is not null && after is not null && ReadinessInputsChanged(before, after)
            && KubeletReady(after) is { } ready && !ReadyEquals(after, ready))
        {
            var next = (JsonObject)after.DeepClone();
            SetConditionIn(next, "Ready", ready.Status, ready.Reason, ready.Message);
            Commit(ns, name, after, next, "kubelet");
            return; // that commit updates the StatefulSet once
        }

        UpdateStatefulSetStatus(ns, StatefulSetOrdinal(name)?.Stem);
    }

    private void RecordLabelChanges(string ns, string name, JsonObject? before, JsonObject? after, string source)
    {
        var old = before is null ? new Dictionary<string, string>() : Labels(before);
        var now = after is null ? new Dictionary<string, string>() : Labels(after);
        foreach (var key in old.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            var from = old.GetValueOrDefault(key);
            var to = now.GetValueOrDefault(key);
            if (from != to)
            {
                Timeline.Record(ns, name, key, from, to, source);
            }
        }
    }

    private static Dictionary<string, string> Labels(JsonObject item) =>
        (item["metadata"]?["labels"] as JsonObject ?? [])
            .Where(kv => kv.Value is JsonValue)
            .ToDictionary(kv => kv.Key, kv => kv.Value!.ToString(), StringComparer.Ordinal);

    private static string? ConditionStatus(JsonObject pod, string type) =>
        (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
            .FirstOrDefault(c => c["type"]?.GetValue<string>() == type)?["status"]?.GetValue<string>();

    private void SetConditionIn(JsonObject pod, string type, string status, string? reason, string? message)
    {
        var podStatus = pod["status"] as JsonObject ?? [];
        pod["status"] = podStatus;
        var conditions = podStatus["conditions"] as JsonArray ?? [];
        podStatus["conditions"] = conditions;
        var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);
        if (existing is null)
        {
            existing = new JsonObject { ["type"] = type, ["lastProbeTime"] = null };
            conditions.Add(existing);
        }

        if (existing["status"]?.GetValue<string>() != status)
        {
            existing["lastTransitionTime"] = Timestamp();
        }

        existing["status"] = status;
        SetOrRemove(existing, "reason", reason);
        SetOrRemove(existing, "message", message);

        static void SetOrRemove(JsonObject o, string member, string? value)
        {
            if (value is null)
            {
                o.Remove(member);
            }
            else
            {
                o[member] = value;
            }
        }
    }

    private static void EnsureValidLabel(string key, string value)
    {
        if (!LabelRules.IsValidKey(key) || !LabelRules.IsValidValue(value))
        {
            throw new ArgumentException($"invalid label {key}={value}");
        }
    }

    /// <summary>(STEM, N) for a pod named <c>STEM-N</c>, else null.</summary>
    private static (string Stem, int Ordinal)? StatefulSetOrdinal(string podName)
    {
        var dash = podName.LastIndexOf('-');
        return dash > 0 && int.TryParse(podName[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal)
            ? (podName[..dash], ordinal)
            : null;
    }
}
