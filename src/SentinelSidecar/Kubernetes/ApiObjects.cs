using System.Text.Json.Serialization;

namespace RedisSidecars.Sidecar.Kubernetes;

// The few fields of the Kubernetes API objects the sidecar reads and writes, with their own AOT JSON context.
// KubernetesClient.Aot's models and serializer context cover every API type: calling its generated operations roots
// all of them (about 15 MB of the binary). The sidecar uses the client for what it is good at — configuration
// (kubeconfig, in-cluster token and CA, token rotation) and its authenticated HttpClient — and speaks these few
// objects itself (KubeHttp). Unknown fields are ignored.

public sealed record ObjectMeta
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("namespace")] public string? Namespace { get; init; }
    [JsonPropertyName("uid")] public string? Uid { get; init; }
    [JsonPropertyName("resourceVersion")] public string? ResourceVersion { get; init; }
    [JsonPropertyName("labels")] public Dictionary<string, string> Labels { get; init; } = [];
    [JsonPropertyName("deletionTimestamp")] public string? DeletionTimestamp { get; init; }
    [JsonPropertyName("generateName")] public string? GenerateName { get; init; }
}

public sealed record ReadinessGate([property: JsonPropertyName("conditionType")] string? ConditionType);

public sealed record PodCondition(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("status")] string? Status);

public sealed record PodSpec
{
    [JsonPropertyName("readinessGates")] public IReadOnlyList<ReadinessGate> ReadinessGates { get; init; } = [];
}

public sealed record PodStatus
{
    [JsonPropertyName("podIP")] public string? PodIp { get; init; }
    [JsonPropertyName("conditions")] public IReadOnlyList<PodCondition> Conditions { get; init; } = [];
}

public sealed record PodObject
{
    [JsonPropertyName("metadata")] public ObjectMeta Metadata { get; init; } = new();
    [JsonPropertyName("spec")] public PodSpec Spec { get; init; } = new();
    [JsonPropertyName("status")] public PodStatus Status { get; init; } = new();
}

public sealed record StatefulSetStatus
{
    [JsonPropertyName("updateRevision")] public string? UpdateRevision { get; init; }
    [JsonPropertyName("currentRevision")] public string? CurrentRevision { get; init; }
}

public sealed record StatefulSetObject
{
    [JsonPropertyName("metadata")] public ObjectMeta Metadata { get; init; } = new();
    [JsonPropertyName("status")] public StatefulSetStatus Status { get; init; } = new();
}

public sealed record ListMeta([property: JsonPropertyName("resourceVersion")] string? ResourceVersion);

public sealed record PodList(
    [property: JsonPropertyName("metadata")] ListMeta? Metadata,
    [property: JsonPropertyName("items")] IReadOnlyList<PodObject>? Items);

public sealed record StatefulSetList(
    [property: JsonPropertyName("metadata")] ListMeta? Metadata,
    [property: JsonPropertyName("items")] IReadOnlyList<StatefulSetObject>? Items);

/// <summary>A <c>Status</c> answer (errors, and a watch's ERROR event).</summary>
public sealed record ApiStatus(
    [property: JsonPropertyName("code")] int? Code,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("status")] string? Status = null);

public sealed record ObjectReference(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("apiVersion")] string ApiVersion,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("namespace")] string Namespace,
    [property: JsonPropertyName("uid")] string? Uid);

public sealed record EventSource([property: JsonPropertyName("component")] string Component);

/// <summary>A core/v1 Event as the sidecar creates it.</summary>
public sealed record EventObject(
    [property: JsonPropertyName("metadata")] ObjectMeta Metadata,
    [property: JsonPropertyName("involvedObject")] ObjectReference InvolvedObject,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("source")] EventSource Source,
    [property: JsonPropertyName("reportingComponent")] string ReportingComponent,
    [property: JsonPropertyName("reportingInstance")] string ReportingInstance,
    [property: JsonPropertyName("firstTimestamp")] string FirstTimestamp,
    [property: JsonPropertyName("lastTimestamp")] string LastTimestamp,
    [property: JsonPropertyName("count")] int Count)
{
    [JsonPropertyName("apiVersion")] public string ApiVersion => "v1";
    [JsonPropertyName("kind")] public string Kind => "Event";
}

public sealed record ConditionPatch(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("lastTransitionTime")] string LastTransitionTime);

public sealed record StatusConditions([property: JsonPropertyName("conditions")] IReadOnlyList<ConditionPatch> Conditions);

public sealed record StatusPatch([property: JsonPropertyName("status")] StatusConditions Status);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PodObject))]
[JsonSerializable(typeof(PodList))]
[JsonSerializable(typeof(StatefulSetObject))]
[JsonSerializable(typeof(StatefulSetList))]
[JsonSerializable(typeof(ApiStatus))]
[JsonSerializable(typeof(EventObject))]
[JsonSerializable(typeof(StatusPatch))]
internal sealed partial class ApiJson : JsonSerializerContext;

/// <summary>A label patch serializes a removed label as an explicit null (merge patch: delete the key).</summary>
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, Dictionary<string, string?>>>))]
internal sealed partial class LabelPatchJson : JsonSerializerContext;
