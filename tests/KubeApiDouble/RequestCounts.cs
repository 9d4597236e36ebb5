using System.Globalization;
using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>A point in the double's request stream (see <see cref="KubeApiServer.MarkRequests"/>).</summary>
public readonly record struct RequestMark(long Sequence, TimeSpan Elapsed);

/// <summary>
/// API requests counted by Kubernetes verb (get, list, watch, create, patch, update, delete) and resource (pods,
/// pods/status, events, statefulsets) between a mark and the moment the counts were taken. A request counts when
/// it arrives (a watch when it is opened), whatever its answer.
/// </summary>
public sealed class RequestCounts(IReadOnlyDictionary<(string Verb, string Resource), int> counts, TimeSpan span)
{
    public IReadOnlyDictionary<(string Verb, string Resource), int> ByVerbAndResource { get; } = counts;

    /// <summary>How long the counted stretch was.</summary>
    public TimeSpan Span { get; } = span;

    public int Total => ByVerbAndResource.Values.Sum();

    public int this[string verb, string resource] => ByVerbAndResource.GetValueOrDefault((verb, resource));

    /// <summary>Requests with <paramref name="verb"/> on any resource.</summary>
    public int Verb(string verb) => ByVerbAndResource.Where(kv => kv.Key.Verb == verb).Sum(kv => kv.Value);

    /// <summary>Requests other than watches (each watch is one long request: reads and writes are what costs).</summary>
    public int ExceptWatches => Total - Verb("watch");

    /// <summary>e.g. <c>list pods 1, watch pods 2, patch pods 1</c>, or <c>none</c>.</summary>
    public override string ToString() => Total == 0
        ? "none"
        : string.Join(", ", ByVerbAndResource.OrderBy(kv => kv.Key.Resource, StringComparer.Ordinal).ThenBy(kv => kv.Key.Verb, StringComparer.Ordinal)
            .Select(kv => $"{kv.Key.Verb} {kv.Key.Resource} {kv.Value.ToString(CultureInfo.InvariantCulture)}"));

    public JsonObject ToJson() => new()
    {
        ["spanMs"] = Span.TotalMilliseconds,
        ["total"] = Total,
        ["counts"] = new JsonArray([.. ByVerbAndResource.Select(kv => (JsonNode)new JsonObject
        {
            ["verb"] = kv.Key.Verb,
            ["resource"] = kv.Key.Resource,
            ["count"] = kv.Value,
        })]),
    };
}
