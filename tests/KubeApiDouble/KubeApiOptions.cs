namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// How the double behaves where a real API server has tunables. Every value can also be changed on a running
/// double through the matching <see cref="KubeApiServer"/> property.
/// </summary>
public sealed record KubeApiOptions
{
    /// <summary>The latency a real API server on a busy node adds to every request.</summary>
    public static readonly TimeSpan DefaultLatency = TimeSpan.FromMilliseconds(4);

    /// <summary>
    /// Delay added to every API request before its answer (for a watch: before its headers and first event);
    /// always on the real clock, so a fake <see cref="TimeProvider"/> never stalls requests.
    /// </summary>
    public TimeSpan Latency { get; init; } = DefaultLatency;

    /// <summary>
    /// The server closes every watch after this long at the latest, whatever its <c>timeoutSeconds</c> (a real
    /// server closes a watch without <c>timeoutSeconds</c> after a random 30–60 min, <c>--min-request-timeout</c>).
    /// </summary>
    public TimeSpan WatchExpiry { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How often a watch with <c>allowWatchBookmarks=true</c> gets a BOOKMARK (the watch cache: once a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a change stays in the watch history (the watch cache keeps at least 75 s). A watch from a
    /// resourceVersion whose next change has left the history gets an ERROR event with a 410 Expired Status.
    /// </summary>
    public TimeSpan WatchHistory { get; init; } = TimeSpan.FromSeconds(75);
}
