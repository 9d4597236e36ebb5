using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// StatefulSets (<c>/apis/apps/v1/namespaces/{ns}/statefulsets</c>: get, list, watch) and what their controller
/// does that a sidecar can see: pods labelled with the revision they were created from, <c>status.updateRevision</c>
/// and <c>currentRevision</c>, a rollout restart that changes the update revision, pods recreated at it.
/// </summary>
public sealed partial class KubeApiServer
{
    /// <summary>
    /// Creates StatefulSet <paramref name="name"/> (selector and template labels <paramref name="podLabels"/>, default
    /// <c>app=NAME</c>) and, unless <paramref name="createPods"/> is false, its pods NAME-0 … NAME-(replicas-1) as
    /// <see cref="AddPod"/> does, labelled with its revision.
    /// </summary>
    public JsonObject AddStatefulSet(
        string @namespace, string name, int replicas, IReadOnlyDictionary<string, string>? podLabels = null,
        IEnumerable<string>? readinessGateConditionTypes = null, bool createPods = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        var labels = podLabels ?? new Dictionary<string, string> { ["app"] = name };
        var gates = readinessGateConditionTypes?.ToList() ?? [];
        var revision = DefaultRevision(name);
        lock (_gate)
        {
            if (_statefulSets.ContainsKey(Key(@namespace, name)))
            {
                throw new InvalidOperationException($"statefulsets.apps \"{name}\" already exists in namespace {@namespace}");
            }

            JsonObject LabelMap() => new([.. labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]);
            var set = new JsonObject
            {
                ["kind"] = "StatefulSet",
                ["apiVersion"] = "apps/v1",
                ["metadata"] = new JsonObject
                {
                    ["name"] = name,
                    ["namespace"] = @namespace,
                    ["uid"] = Guid.NewGuid().ToString(),
                    ["resourceVersion"] = NextResourceVersion(),
                    ["generation"] = 1,
                    ["creationTimestamp"] = Timestamp(),
                    ["labels"] = LabelMap(),
                },
                ["spec"] = new JsonObject
                {
                    ["replicas"] = replicas,
                    ["selector"] = new JsonObject { ["matchLabels"] = LabelMap() },
                    ["serviceName"] = $"{name}-headless",
                    ["podManagementPolicy"] = "Parallel",
                    ["updateStrategy"] = new JsonObject
                    {
                        ["type"] = "RollingUpdate",
                        ["rollingUpdate"] = new JsonObject { ["partition"] = 0 },
                    },
                    ["revisionHistoryLimit"] = 10,
                    ["template"] = new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["creationTimestamp"] = null, ["labels"] = LabelMap() },
                        ["spec"] = new JsonObject
                        {
                            ["containers"] = new JsonArray(new JsonObject { ["name"] = "redis", ["image"] = "redis:7.2" }),
                            ["readinessGates"] = new JsonArray([.. gates.Select(g => (JsonNode)new JsonObject { ["conditionType"] = g })]),
                        },
                    },
                },
                ["status"] = new JsonObject
                {
                    ["observedGeneration"] = 1,
                    ["replicas"] = 0,
                    ["readyReplicas"] = 0,
                    ["currentReplicas"] = 0,
                    ["updatedReplicas"] = 0,
                    ["availableReplicas"] = 0,
                    ["currentRevision"] = revision,
                    ["updateRevision"] = revision,
                    ["collisionCount"] = 0,
                },
            };
            _statefulSets[Key(@namespace, name)] = set;
            Publish(Kinds.StatefulSets, null, set);
        }

        if (createPods)
        {
            for (var i = 0; i < replicas; i++)
            {
                AddPod(@namespace, $"{name}-{i}", labels, gates);
            }
        }

        return GetStatefulSet(@namespace, name)!;
    }

    /// <summary>A copy of the stored StatefulSet, or null.</summary>
    public JsonObject? GetStatefulSet(string @namespace, string name)
    {
        lock (_gate)
        {
            return _statefulSets.TryGetValue(Key(@namespace, name), out var set) ? (JsonObject)set.DeepClone() : null;
        }
    }

    /// <summary><c>status.updateRevision</c> of the StatefulSet, or null when the double has no such set.</summary>
    public string? GetUpdateRevision(string @namespace, string name) => GetStatefulSet(@namespace, name)?["status"]?["updateRevision"]?.GetValue<string>();

    /// <summary><c>status.currentRevision</c> of the StatefulSet, or null when the double has no such set.</summary>
    public string? GetCurrentRevision(string @namespace, string name) => GetStatefulSet(@namespace, name)?["status"]?["currentRevision"]?.GetValue<string>();

    /// <summary>
    /// <c>kubectl rollout restart statefulset NAME</c>: the template gets a restartedAt annotation, so the
    /// controller computes a new update revision (returned); pods keep their revision until recreated
    /// (<see cref="RecreatePod"/>), and <c>currentRevision</c> follows once every pod carries the new one.
    /// </summary>
    public string RolloutRestart(string @namespace, string name)
    {
        lock (_gate)
        {
            var current = _statefulSets.GetValueOrDefault(Key(@namespace, name))
                ?? throw new InvalidOperationException($"statefulsets.apps \"{name}\" not found in namespace {@namespace}");
            var next = (JsonObject)current.DeepClone();
            var template = (JsonObject)next["spec"]!["template"]!["metadata"]!;
            var annotations = template["annotations"] as JsonObject ?? [];
            template["annotations"] = annotations;
            annotations["kubectl.kubernetes.io/restartedAt"] = _time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ssK", CultureInfo.InvariantCulture);
            var generation = long.Parse(next["metadata"]!["generation"]!.ToJsonString(), CultureInfo.InvariantCulture) + 1;
            next["metadata"]!["generation"] = generation;
            string revision;
            do
            {
                revision = $"{name}-{RandomSuffix(10)}";
            }
            while (revision == current["status"]!["updateRevision"]!.GetValue<string>());

            next["status"]!["observedGeneration"] = generation;
            next["status"]!["updateRevision"] = revision;
            RecountStatefulSet(@namespace, name, next);
            CommitStatefulSet(@namespace, name, current, next);
            return revision;
        }
    }

    /// <summary>
    /// What the StatefulSet controller does to roll a pod: deletes it (watches get DELETED; its labels leave the
    /// timeline) and creates it again with a new uid, the template's labels (a role label set on the old pod is
    /// gone) and the set's update revision (or <paramref name="revision"/>; without a StatefulSet the old pod's
    /// labels are kept). A probed container starts not ready again.
    /// </summary>
    public JsonObject RecreatePod(string @namespace, string name, string? revision = null)
    {
        lock (_gate)
        {
            var old = _pods.GetValueOrDefault(Key(@namespace, name))
                ?? throw new InvalidOperationException($"pods \"{name}\" not found in namespace {@namespace}");
            var stem = StatefulSetOrdinal(name)?.Stem;
            var set = stem is null ? null : _statefulSets.GetValueOrDefault(Key(@namespace, stem));
            var labels = set?["spec"]?["template"]?["metadata"]?["labels"] is JsonObject template
                ? template.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>(), StringComparer.Ordinal)
                : Labels(old).Where(kv => kv.Key != RevisionLabel).ToDictionary(StringComparer.Ordinal);
            if (revision is not null)
            {
                labels[RevisionLabel] = revision;
            }

            var gates = (old["spec"]?["readinessGates"] as JsonArray ?? []).Select(g => g?["conditionType"]?.GetValue<string>()).OfType<string>().ToList();
            RemovePod(@namespace, name);
            _containerReadiness.Remove(Key(@namespace, name));
            return AddPod(@namespace, name, labels, gates);
        }
    }

    private string? StatefulSetRevision(string ns, string name) =>
        _statefulSets.GetValueOrDefault(Key(ns, name))?["status"]?["updateRevision"]?.GetValue<string>();

    /// <summary>A stable <c>NAME-xxxxxxxxxx</c> revision for a set's first template (the controller hashes the template).</summary>
    private static string DefaultRevision(string name)
    {
        const string Alphabet = "bcdfghjklmnpqrstvwxz2456789";
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            hash = (hash ^ b) * 16777619u;
        }

        var suffix = new StringBuilder();
        for (var i = 0; i < 10; i++)
        {
            suffix.Append(Alphabet[(int)(hash % (uint)Alphabet.Length)]);
            hash = (hash * 31) + 7;
        }

        return $"{name}-{suffix}";
    }

    /// <summary>The controller's status bookkeeping after a pod of the set changed; call under <see cref="_gate"/>.</summary>
    private void UpdateStatefulSetStatus(string ns, string? setName)
    {
        if (setName is null || _statefulSets.GetValueOrDefault(Key(ns, setName)) is not { } current)
        {
            return;
        }

        var next = (JsonObject)current.DeepClone();
        RecountStatefulSet(ns, setName, next);
        CommitStatefulSet(ns, setName, current, next);
    }

    private void RecountStatefulSet(string ns, string name, JsonObject set)
    {
        var pods = _pods.Values.Where(p => p["metadata"]?["namespace"]?.GetValue<string>() == ns
            && StatefulSetOrdinal(p["metadata"]!["name"]!.GetValue<string>())?.Stem == name).ToList();
        var status = (JsonObject)set["status"]!;
        var update = status["updateRevision"]!.GetValue<string>();
        var currentRevision = status["currentRevision"]!.GetValue<string>();
        var updated = pods.Count(p => Labels(p).GetValueOrDefault(RevisionLabel) == update);
        var replicas = int.Parse(set["spec"]!["replicas"]!.ToJsonString(), CultureInfo.InvariantCulture);
        if (updated == pods.Count && pods.Count == replicas)
        {
            currentRevision = update; // the rollout is complete
        }

        var ready = pods.Count(p => ConditionStatus(p, "Ready") == "True");
        status["replicas"] = pods.Count;
        status["readyReplicas"] = ready;
        status["availableReplicas"] = ready;
        status["updatedReplicas"] = updated;
        status["currentRevision"] = currentRevision;
        status["currentReplicas"] = pods.Count(p => Labels(p).GetValueOrDefault(RevisionLabel) == currentRevision);
    }

    private void CommitStatefulSet(string ns, string name, JsonObject current, JsonObject next)
    {
        next["metadata"]!["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
        if (JsonNode.DeepEquals(current, next))
        {
            return;
        }

        next["metadata"]!["resourceVersion"] = NextResourceVersion();
        _statefulSets[Key(ns, name)] = next;
        Publish(Kinds.StatefulSets, current, next);
    }
}
