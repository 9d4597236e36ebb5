namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>Timings of the list + watch cache; the defaults suit a real cluster, tests shorten them.</summary>
public sealed record KubeWatchOptions
{
    /// <summary>A full relist this often, as a safety net against a missed event (client-go's resync period).</summary>
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Each watch asks for a random <c>timeoutSeconds</c> in [this, 2 × this) (client-go: 5–10 min), so watches of many pods do not end together.</summary>
    public TimeSpan MinWatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A watch with no line for this long is dead (a blackholed connection never ends by itself) and is reopened
    /// from the last resourceVersion. Longer than the server's bookmark interval (1 min).
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// A watch silent (no event, no bookmark) for this long is reopened from its resourceVersion when Sentinel reports an
    /// instance of the set down, back or restarted (<see cref="IKubeFacts.Reprove"/>): a pod of the set is probably being
    /// replaced, and a dead watch would hide that (a rolling restart's new update revision, a pod's new revision) until
    /// <see cref="IdleTimeout"/>. A line within this interval shows the watch alive after the change the event announces
    /// (Sentinel notices an instance down only after down-after-milliseconds); it also bounds the reopens to one per watch
    /// per interval. None at rest.
    /// </summary>
    public TimeSpan ReproveAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The first delay after a failure; doubled per failure up to <see cref="MaxBackoff"/>, each with jitter (50–100 %).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bound of one list request (headers and body).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After a 403, ask again this late (RBAC may be fixed without restarting the pod).</summary>
    public TimeSpan ForbiddenRetry { get; init; } = TimeSpan.FromMinutes(10);
}
