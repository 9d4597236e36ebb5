using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s.Autorest;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>
/// The one way the sidecar sends a request to the API server (<see cref="KubeApi"/>: the cluster's TLS and the
/// credentials from KubernetesClient's configuration), with the few objects of <see cref="ApiJson"/>. A non-2xx answer throws <see cref="HttpOperationException"/>,
/// as the client's generated calls do, so the edge classifies failures one way (<see cref="KubeErrors"/>).
/// </summary>
public static class KubeHttp
{
    public const string MergePatch = "application/merge-patch+json";
    public const string StrategicMergePatch = "application/strategic-merge-patch+json";

    /// <summary>Throws <see cref="HttpOperationException"/> for a non-2xx answer (its body kept for the status, never logged).</summary>
    public static async Task EnsureSuccessAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var content = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        throw new HttpOperationException($"Operation returned an invalid status code '{response.StatusCode}'")
        {
            Request = new HttpRequestMessageWrapper(request, null),
            Response = new HttpResponseMessageWrapper(response, content),
        };
    }

    /// <summary>Sends <paramref name="body"/> (or nothing) and reads the answer as <paramref name="answer"/>.</summary>
    public static async Task<TAnswer> SendAsync<TAnswer>(KubeApi api, HttpMethod method, string relativeUri, JsonTypeInfo<TAnswer> answer,
        string? body, string? contentType, CancellationToken ct)
    {
        using var request = await api.RequestAsync(method, relativeUri, ct).ConfigureAwait(false);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType ?? "application/json"));
        using var response = await api.Http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, ct).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync(stream, answer, ct).ConfigureAwait(false) ?? throw new JsonException($"empty answer to {method} {relativeUri}");
    }

    public static string Escape(string s) => Uri.EscapeDataString(s);
}
