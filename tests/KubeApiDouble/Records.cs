using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>One HTTP request the double answered (admin calls under <c>/_double/</c> are not recorded).</summary>
/// <param name="Elapsed">Time since the double started, on the same monotonic clock as <see cref="LabelChange.Elapsed"/>.</param>
/// <param name="StatusCode">The status answered; 499 when the client gave up first (e.g. on a hung request).</param>
/// <param name="Unexpected">True when no API route matched (answered 404): a call the double does not model.</param>
/// <param name="StatusCode">0 when the connection was reset instead of an answer.</param>
/// <param name="Fault">
/// The injected fault that answered it ("fail 503", "hang", "reset", "blackhole", "forbidden", "watch 410",
/// "watch closed", "watch reset"), or null.
/// </param>
/// <param name="Verb">The Kubernetes verb (get, list, watch, patch, create), or null when no route matched.</param>
/// <param name="Resource">"pods", "pods/status", "events", "statefulsets", or null when no route matched.</param>
/// <remarks>A request is recorded when its answer is complete: a watch when its stream ends.</remarks>
public sealed record RecordedRequest(
    DateTimeOffset Time,
    TimeSpan Elapsed,
    string Method,
    string Path,
    string Query,
    string? ContentType,
    int StatusCode,
    string? Body,
    bool Unexpected,
    string? Fault,
    string? Verb = null,
    string? Resource = null)
{
    /// <summary>PATCH, POST or PUT.</summary>
    public bool IsWrite => Method is "PATCH" or "POST" or "PUT";

    /// <summary>The namespace in the path (<c>/api/v1/namespaces/{ns}/...</c>), or null.</summary>
    public string? Namespace => Segment("namespaces", 1);

    /// <summary>The pod name when the path is a pod or one of its subresources, or null.</summary>
    public string? Pod => Segment("pods", 1);

    private string? Segment(string after, int offset)
    {
        var parts = Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var i = Array.IndexOf(parts, after);
        return i >= 0 && i + offset < parts.Length ? parts[i + offset] : null;
    }

    public JsonObject ToJson() => new()
    {
        ["time"] = Time.ToString("O"),
        ["elapsedMs"] = Elapsed.TotalMilliseconds,
        ["method"] = Method,
        ["path"] = Path,
        ["query"] = Query,
        ["contentType"] = ContentType,
        ["status"] = StatusCode,
        ["unexpected"] = Unexpected,
        ["fault"] = Fault,
        ["verb"] = Verb,
        ["resource"] = Resource,
    };
}

/// <summary>An Event created through <c>/api/v1</c> (ApiGroup "") or <c>/apis/events.k8s.io/v1</c>.</summary>
public sealed record RecordedEvent(DateTimeOffset Time, string ApiGroup, string Namespace, string Name, JsonObject Object)
{
    public string? Reason => Object["reason"]?.GetValue<string>();

    public string? Type => Object["type"]?.GetValue<string>();

    /// <summary><c>message</c> (core/v1) or <c>note</c> (events.k8s.io/v1).</summary>
    public string? Message => (Object["message"] ?? Object["note"])?.GetValue<string>();

    /// <summary><c>involvedObject.name</c> (core/v1) or <c>regarding.name</c> (events.k8s.io/v1).</summary>
    public string? ObjectName => (Object["involvedObject"]?["name"] ?? Object["regarding"]?["name"])?.GetValue<string>();

    public JsonObject ToJson() => new()
    {
        ["time"] = Time.ToString("O"),
        ["apiGroup"] = ApiGroup,
        ["namespace"] = Namespace,
        ["name"] = Name,
        ["object"] = Object.DeepClone(),
    };
}
