namespace RedisSidecars.Core.Settings;

public static class SidecarDefaults
{
    public const string MasterLabelName = "redis-role";
    public const string MasterLabelValue = "master";
    public const string ReplicaLabelValue = "replica";
    public const string ReadinessConditionType = "redissidecars.io/ready";
    /// <summary>/livez, /readyz, /metrics (not 9121: redis_exporter's).</summary>
    public const int HttpPort = 9180;
    /// <summary>The planned-handover endpoint, on a port of its own that no Service exposes.</summary>
    public const int HandoverPort = 9181;
    public const int HandoverTimeoutMs = 20000;
    /// <summary>30 s without a completed reconcile tick: the loop is stuck, not merely waiting on a slow API or Sentinel
    /// (each of those calls has a much shorter timeout).</summary>
    public const int LivenessTimeoutMs = 30000;
    /// <summary>3 s: a replica being reconfigured (REPLICAOF, a short resync) stays ready; one that stays broken does not.</summary>
    public const int ReplicaNotReadyAfterMs = 3000;
    public const bool FenceEnabled = true;
    /// <summary>10 min: the watch delivers changes at once; the relist only repairs a watch that silently missed one.</summary>
    public const int KubeResyncIntervalMs = 600000;
}
