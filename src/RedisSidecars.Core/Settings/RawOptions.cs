using Microsoft.Extensions.Configuration;

namespace RedisSidecars.Core.Settings;

/// <summary>
/// Settings exactly as read (environment, command line, optional JSON file), before validation.
/// Every property is a string so that a malformed value gets an error naming its variable
/// (see <see cref="SettingsValidator"/>). The key names are the contract with the manifests.
/// </summary>
public sealed class RawOptions
{
    [ConfigurationKeyName("POD_NAME")] public string? PodName { get; set; }
    [ConfigurationKeyName("POD_NAMESPACE")] public string? PodNamespace { get; set; }
    [ConfigurationKeyName("POD_IP")] public string? PodIp { get; set; }
    [ConfigurationKeyName("CLUSTER_DOMAIN")] public string? ClusterDomain { get; set; }
    [ConfigurationKeyName("REDIS_NODES")] public string? RedisNodes { get; set; }
    [ConfigurationKeyName("SENTINEL_NODES")] public string? SentinelNodes { get; set; }
    [ConfigurationKeyName("REDIS_STATEFULSET")] public string? RedisStatefulSet { get; set; }
    [ConfigurationKeyName("REDIS_HEADLESS_SERVICE")] public string? RedisHeadlessService { get; set; }
    [ConfigurationKeyName("REDIS_REPLICAS")] public string? RedisReplicas { get; set; }
    [ConfigurationKeyName("SENTINEL_STATEFULSET")] public string? SentinelStatefulSet { get; set; }
    [ConfigurationKeyName("SENTINEL_HEADLESS_SERVICE")] public string? SentinelHeadlessService { get; set; }
    [ConfigurationKeyName("SENTINEL_REPLICAS")] public string? SentinelReplicas { get; set; }
    [ConfigurationKeyName("ANNOUNCE_HOST")] public string? AnnounceHost { get; set; }
    [ConfigurationKeyName("REDIS_PORT")] public string? RedisPort { get; set; }
    [ConfigurationKeyName("SENTINEL_PORT")] public string? SentinelPort { get; set; }
    [ConfigurationKeyName("MASTER_SET_NAME")] public string? MasterSetName { get; set; }
    [ConfigurationKeyName("SENTINEL_QUORUM")] public string? SentinelQuorum { get; set; }
    [ConfigurationKeyName("SENTINEL_DOWN_AFTER_MS")] public string? SentinelDownAfterMs { get; set; }
    [ConfigurationKeyName("SENTINEL_FAILOVER_TIMEOUT_MS")] public string? SentinelFailoverTimeoutMs { get; set; }
    [ConfigurationKeyName("SENTINEL_PARALLEL_SYNCS")] public string? SentinelParallelSyncs { get; set; }
    [ConfigurationKeyName("SENTINEL_MASTER_REBOOT_DOWN_AFTER_MS")] public string? SentinelMasterRebootDownAfterMs { get; set; }
    [ConfigurationKeyName("REDIS_PASSWORD")] public string? RedisPassword { get; set; }
    [ConfigurationKeyName("REDIS_PASSWORD_FILE")] public string? RedisPasswordFile { get; set; }
    [ConfigurationKeyName("REDIS_USERNAME")] public string? RedisUsername { get; set; }
    [ConfigurationKeyName("SENTINEL_PASSWORD")] public string? SentinelPassword { get; set; }
    [ConfigurationKeyName("SENTINEL_PASSWORD_FILE")] public string? SentinelPasswordFile { get; set; }
    [ConfigurationKeyName("DATA_DIR")] public string? DataDir { get; set; }
    [ConfigurationKeyName("MASTER_WAIT_TIMEOUT_MS")] public string? MasterWaitTimeoutMs { get; set; }
    [ConfigurationKeyName("DISCOVERY_TIMEOUT_MS")] public string? DiscoveryTimeoutMs { get; set; }
    [ConfigurationKeyName("MIN_REPLICAS_TO_WRITE")] public string? MinReplicasToWrite { get; set; }
    [ConfigurationKeyName("MIN_REPLICAS_MAX_LAG")] public string? MinReplicasMaxLag { get; set; }
    [ConfigurationKeyName("TLS_ENABLED")] public string? TlsEnabled { get; set; }
    [ConfigurationKeyName("TLS_CA_FILE")] public string? TlsCaFile { get; set; }
    [ConfigurationKeyName("TLS_CERT_FILE")] public string? TlsCertFile { get; set; }
    [ConfigurationKeyName("TLS_KEY_FILE")] public string? TlsKeyFile { get; set; }
}
