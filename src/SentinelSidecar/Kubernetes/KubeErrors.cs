using System.Net;
using System.Text.Json;
using k8s.Autorest;
using Polly.Timeout;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>How the edge classifies API failures: transient ones are retried, the rest are reported.</summary>
public static class KubeErrors
{
    public static int? StatusOf(Exception e) => e is HttpOperationException { Response: { } r } ? (int)r.StatusCode : null;

    /// <summary>Connection errors, timeouts, broken streams and HTTP 409/429/5xx; never 4xx answers that a retry cannot change.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        HttpOperationException h => h.Response is null || h.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests || (int)h.Response.StatusCode >= 500,
        HttpRequestException or IOException or TimeoutException or TimeoutRejectedException or TaskCanceledException or JsonException => true,
        _ => false,
    };

    /// <summary>Retry-After of a 429/503 answer, if the server sent one.</summary>
    public static TimeSpan? RetryAfter(Exception e)
    {
        if (e is not HttpOperationException { Response.Headers: { } headers }) return null;
        foreach (var (name, values) in headers)
            if (name.Equals("Retry-After", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s))
                return TimeSpan.FromSeconds(s);
        return null;
    }

    /// <summary>A short description for a log line (status code and reason, never a response body or token).</summary>
    public static string Describe(Exception? e) => e switch
    {
        HttpOperationException { Response: { } r } => $"HTTP {(int)r.StatusCode}" + (string.IsNullOrEmpty(r.ReasonPhrase) ? "" : $" {r.ReasonPhrase}"),
        HttpRequestException h => "connection failed" + (h.HttpRequestError == HttpRequestError.Unknown ? "" : $" ({h.HttpRequestError})"),
        WatchIdleException w => $"watch silent: {w.Message}",
        TimeoutRejectedException or TaskCanceledException or TimeoutException => "timed out",
        IOException => "connection broken",
        JsonException => "malformed answer",
        null => "unknown",
        _ => e.GetType().Name,
    };
}
