using Microsoft.Extensions.Configuration;

namespace RedisSidecars.Core.Settings;

/// <summary>The sidecar's own settings (on top of <see cref="RawOptions"/>), exactly as read.</summary>
public sealed class SidecarRawOptions
{
    [ConfigurationKeyName("LOCAL_REDIS")] public string? LocalRedis { get; set; }
    [ConfigurationKeyName("MASTER_POD_LABEL_NAME")] public string? MasterPodLabelName { get; set; }
    [ConfigurationKeyName("MASTER_POD_LABEL_VALUE")] public string? MasterPodLabelValue { get; set; }
    /// <summary>Null = default "replica"; empty = remove the label from replicas (the one setting where empty means something).</summary>
    [ConfigurationKeyName("REPLICA_POD_LABEL_VALUE")] public string? ReplicaPodLabelValue { get; set; }
    [ConfigurationKeyName("READINESS_CONDITION_TYPE")] public string? ReadinessConditionType { get; set; }
    [ConfigurationKeyName("HTTP_PORT")] public string? HttpPort { get; set; }
    /// <summary>The planned-handover endpoint's own port (exposed by no Service).</summary>
    [ConfigurationKeyName("HANDOVER_PORT")] public string? HandoverPort { get; set; }
    /// <summary>The address the HTTP endpoints listen on (default all: 0.0.0.0).</summary>
    [ConfigurationKeyName("HTTP_HOST")] public string? HttpHost { get; set; }
    [ConfigurationKeyName("RECONCILE_INTERVAL_MS")] public string? ReconcileIntervalMs { get; set; }
    [ConfigurationKeyName("SENTINEL_LOSS_GRACE_MS")] public string? SentinelLossGraceMs { get; set; }
    [ConfigurationKeyName("HANDOVER_TIMEOUT_MS")] public string? HandoverTimeoutMs { get; set; }
    [ConfigurationKeyName("MASTER_LABEL_WAIT_MS")] public string? MasterLabelWaitMs { get; set; }
    [ConfigurationKeyName("LIVENESS_TIMEOUT_MS")] public string? LivenessTimeoutMs { get; set; }
    [ConfigurationKeyName("REPLICA_NOT_READY_AFTER_MS")] public string? ReplicaNotReadyAfterMs { get; set; }
    [ConfigurationKeyName("FENCE_ENABLED")] public string? FenceEnabled { get; set; }
    [ConfigurationKeyName("KUBE_RESYNC_INTERVAL_MS")] public string? KubeResyncIntervalMs { get; set; }
    [ConfigurationKeyName("KUBECONFIG")] public string? KubeConfig { get; set; }
    /// <summary>verify: the Sentinel Service to ask (the bootstrap job's variables), in addition to SENTINEL_NODES.</summary>
    [ConfigurationKeyName("REDIS_SENTINEL_HOST")] public string? RedisSentinelHost { get; set; }
    [ConfigurationKeyName("REDIS_SENTINEL_PORT")] public string? RedisSentinelPort { get; set; }
}
