using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s.Autorest;

namespace RedisSidecars.Sidecar.Kubernetes;

public enum WatchEventKind { Added, Modified, Deleted, Bookmark, Error }

/// <summary>One line of a watch stream.</summary>
/// <param name="Object">The object (Added/Modified/Deleted); null for Bookmark and Error.</param>
/// <param name="ResourceVersion">The object's (or the bookmark's) resourceVersion; null for Error.</param>
/// <param name="Status">The Status of an Error event (e.g. code 410, reason Expired).</param>
public sealed record WatchEvent<T>(WatchEventKind Kind, T? Object, string? ResourceVersion, ApiStatus? Status) where T : class;

/// <summary>A watch stream that went silent for longer than the idle bound (a dead connection: nothing will come).</summary>
public sealed class WatchIdleException(TimeSpan idle) : TimeoutException($"no event or bookmark for {idle.TotalSeconds:0.#} s");

/// <summary>
/// Streams a watch (<c>GET …?watch=true</c>) through <see cref="KubeApi"/> (TLS against the cluster CA, a timeout
/// until the headers, the credentials: the token file, re-read as it rotates).
/// KubernetesClient.Aot has no Watcher, and its generated <c>…WithHttpMessagesAsync(watch: true)</c> hides the
/// stream after the first line, so the lines are read here and deserialized as the sidecar's own <see cref="ApiJson"/> objects.
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
        KubeApi client, string relativeUri, JsonTypeInfo<T> type, TimeSpan idleTimeout, TimeProvider time, [EnumeratorCancellation] CancellationToken ct,
        TimeSpan? headersTimeout = null)
        where T : class
    {
        using var request = await client.RequestAsync(HttpMethod.Get, relativeUri, ct).ConfigureAwait(false);
        HttpResponseMessage response;
        using (var headers = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            // The client's HttpClient.Timeout bounds this too; a shorter bound notices a blackholed server sooner.
            if (headersTimeout is { } bound) headers.CancelAfter(bound);
            try
            {
                response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException("no answer to the watch request in time", e);
            }
        }

        using var _ = response;
        using (var body = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            body.CancelAfter(TimeSpan.FromSeconds(5));
            await KubeHttp.EnsureSuccessAsync(request, response, body.Token).ConfigureAwait(false);
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
            yield return Parse(line, type);
        }
    }

    internal static WatchEvent<T> Parse<T>(string line, JsonTypeInfo<T> objectType) where T : class
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
            "ADDED" => new(WatchEventKind.Added, Object(item, objectType), rv, null),
            "MODIFIED" => new(WatchEventKind.Modified, Object(item, objectType), rv, null),
            "DELETED" => new(WatchEventKind.Deleted, Object(item, objectType), rv, null),
            "BOOKMARK" => new(WatchEventKind.Bookmark, null, rv, null),
            "ERROR" => new(WatchEventKind.Error, null, null, Object(item, ApiJson.Default.ApiStatus)),
            _ => throw new JsonException($"unknown watch event type '{type}'"),
        };
    }

    static T Object<T>(JsonElement item, JsonTypeInfo<T> type) => item.Deserialize(type) ?? throw new JsonException($"empty {typeof(T).Name} in a watch event");
}
