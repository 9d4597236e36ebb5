namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>
/// The metrics redis-sidecar exports (src/SentinelSidecar/Hosting/SidecarMetrics.cs), as the alerts and the
/// dashboard of the metrics component may use them: name → Prometheus type.
/// </summary>
public static class SidecarMetricsContract
{
    public static readonly IReadOnlyDictionary<string, string> Metrics = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["redis_sidecar_role"] = "gauge", // 0 unknown/none, 1 replica, 2 master: the label this pod carries
        ["redis_sidecar_ready"] = "gauge",
        ["redis_sidecar_sentinels_reachable"] = "gauge",
        ["redis_sidecar_sentinels_configured"] = "gauge",
        ["redis_sidecar_sentinel_majority_lost"] = "gauge",
        ["redis_sidecar_failovers_observed_total"] = "counter",
        ["redis_sidecar_label_patches_total"] = "counter",
        ["redis_sidecar_api_errors_total"] = "counter",
        ["redis_sidecar_handovers_total"] = "counter", // {outcome}
        ["redis_sidecar_handover_writes_paused"] = "gauge",
        ["redis_sidecar_fenced"] = "gauge",
        ["redis_sidecar_fences_total"] = "counter",
        ["redis_sidecar_event_to_label_seconds"] = "histogram",
        ["redis_sidecar_kube_watch_restarts_total"] = "counter",
        ["redis_sidecar_kube_relists_total"] = "counter",
        ["process_resident_memory_bytes"] = "gauge",
        ["dotnet_gc_heap_size_bytes"] = "gauge",
    };

    /// <summary>Every value of redis_sidecar_handovers_total's outcome label.</summary>
    public static readonly IReadOnlyList<string> HandoverOutcomes =
    [
        "HandedOver", "NotMaster", "NoHealthyReplica", "NoSentinelReady", "SentinelRefused",
        "CatchUpTimedOut", "LocalUnreachable", "FailoverAborted", "FailoverPending",
    ];

    /// <summary>The outcomes that are not failures: handed over, nothing to hand over, no replica to hand over to.</summary>
    public static readonly IReadOnlySet<string> SucceededHandoverOutcomes = new HashSet<string>(StringComparer.Ordinal) { "HandedOver", "NotMaster", "NoHealthyReplica" };

    /// <summary>True for a series name the sidecar exports: a contract metric, or a histogram's _bucket/_sum/_count.</summary>
    public static bool Exports(string series) =>
        Metrics.ContainsKey(series)
        || new[] { "_bucket", "_sum", "_count" }.Any(suffix => series.EndsWith(suffix, StringComparison.Ordinal)
                                                               && Metrics.TryGetValue(series[..^suffix.Length], out var type) && type == "histogram");

    /// <summary>Names other processes export too (redis_exporter in the same pod): a selector must pick the sidecar's job.</summary>
    public static bool IsShared(string metric) => !metric.StartsWith("redis_sidecar_", StringComparison.Ordinal);
}
