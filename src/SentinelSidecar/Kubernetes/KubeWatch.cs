using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace RedisSidecars.Sidecar.Kubernetes;

public enum WatchEventKind { Added, Modified, Deleted, Bookmark, Error }

/// <summary>One line of a watch stream.</summary>
/// <param name="Object">The object (Added/Modified/Deleted); null for Bookmark and Error.</param>
/// <param name="ResourceVersion">The object's (or the bookmark's) resourceVersion; null for Error.</param>
/// <param name="Status">The Status of an Error event (e.g. code 410, reason Expired).</param>
public sealed record WatchEvent<T>(WatchEventKind Kind, T? Object, string? ResourceVersion, V1Status? Status) where T : class;

/// <summary>A watch stream that went silent for longer than the idle bound (a dead connection: nothing will come).</summary>
public sealed class WatchIdleException(TimeSpan idle) : TimeoutException($"no event or bookmark for {idle.TotalSeconds:0.#} s");

/// <summary>
/// Streams a watch (<c>GET …?watch=true</c>) through the KubernetesClient's own HTTP pipeline: its HttpClient
/// (TLS, CA, per-request timeout until the headers) and its credentials (the token file, re-read as it rotates).
/// KubernetesClient.Aot has no Watcher, and its generated <c>…WithHttpMessagesAsync(watch: true)</c> hides the
/// stream after the first line, so the lines are read here and deserialized with the client's AOT JSON context.
/// </summary>
public static class KubeWatch
{
    /// <summary>
    /// Opens the watch at <paramref name="relativeUri"/> (relative to the client's base URI, with <c>watch=true</c>)
    /// and yields its events until the server ends the stream. Throws <see cref="HttpOperationException"/> for a
    /// non-2xx answer (as the generated calls do), <see cref="WatchIdleException"/> when no line arrives within
    /// <paramref name="idleTimeout"/>, and <see cref="HttpRequestException"/>/<see cref="IOException"/>/<see cref="JsonException"/>
    /// for a broken connection or stream, <see cref="TimeoutException"/> when no headers come within <paramref name="headersTimeout"/>.
    /// </summary>
    public static async IAsyncEnumerable<WatchEvent<T>> StreamAsync<T>(
        k8s.Kubernetes client, string relativeUri, TimeSpan idleTimeout, TimeProvider time, [EnumeratorCancellation] CancellationToken ct,
        TimeSpan? headersTimeout = null)
        where T : class
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(client.BaseUri, relativeUri))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        if (client.Credentials is { } credentials) await credentials.ProcessHttpRequestAsync(request, ct).ConfigureAwait(false);
        HttpResponseMessage response;
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            // The client's HttpClient.Timeout bounds this too; a shorter bound notices a blackholed server sooner.
            if (headersTimeout is { } bound) headers.CancelAfter(bound);
            try
            {
                response = await client.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException("no answer to the watch request in time", e);
            }
        }

        using var _ = response;
        if (!response.IsSuccessStatusCode)
        {
            var content = await response.Content.ReadAsStringAsync(ct).WaitAsync(TimeSpan.FromSeconds(5), time, ct).ConfigureAwait(false);
            throw new HttpOperationException($"Operation returned an invalid status code '{response.StatusCode}'")
            {
                Request = new HttpRequestMessageWrapper(request, null),
                Response = new HttpResponseMessageWrapper(response, content),
            };
        }

        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var idleTimer = time.CreateTimer(_ =>
        {
            try { idle.Cancel(); }
            catch (ObjectDisposedException) { } // fired while the stream was being closed
        }, null, idleTimeout, Timeout.InfiniteTimeSpan);
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new WatchIdleException(idleTimeout);
            }

            if (line is null) yield break; // the server ended the stream (timeoutSeconds or its own expiry)
            idleTimer.Change(idleTimeout, Timeout.InfiniteTimeSpan);
            if (line.Length == 0) continue;
            yield return Parse<T>(line);
        }
    }

    internal static WatchEvent<T> Parse<T>(string line) where T : class
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        var type = root.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (!root.TryGetProperty("object", out var item) || item.ValueKind != JsonValueKind.Object)
            throw new JsonException($"watch event '{type}' without an object");
        var rv = item.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                 && meta.TryGetProperty("resourceVersion", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return type switch
        {
            "ADDED" => new(WatchEventKind.Added, KubernetesJson.Deserialize<T>(item), rv, null),
            "MODIFIED" => new(WatchEventKind.Modified, KubernetesJson.Deserialize<T>(item), rv, null),
            "DELETED" => new(WatchEventKind.Deleted, KubernetesJson.Deserialize<T>(item), rv, null),
            "BOOKMARK" => new(WatchEventKind.Bookmark, null, rv, null),
            "ERROR" => new(WatchEventKind.Error, null, null, KubernetesJson.Deserialize<V1Status>(item)),
            _ => throw new JsonException($"unknown watch event type '{type}'"),
        };
    }
}
