using System.Text.RegularExpressions;
using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Settings;

/// <summary>Validated settings of redis-sidecar (on top of <see cref="CommonSettings"/>).</summary>
public sealed record SidecarSettings
{
    public required CommonSettings Common { get; init; }
    public required NodeAddress LocalRedis { get; init; }
    public required string LabelName { get; init; }
    public required string MasterLabelValue { get; init; }
    /// <summary>Null: replicas carry no role label (the label is removed).</summary>
    public required string? ReplicaLabelValue { get; init; }
    public required string ReadinessConditionType { get; init; }
    public required int HttpPort { get; init; }
    public required System.Net.IPAddress HttpHost { get; init; }
    public required TimeSpan ReconcileInterval { get; init; }
    public required TimeSpan SentinelLossGrace { get; init; }
    public required TimeSpan HandoverTimeout { get; init; }
    public required TimeSpan MasterLabelWait { get; init; }
    /// <summary>The planned-handover endpoint's own port (never the scraped one).</summary>
    public required int HandoverPort { get; init; }
    /// <summary>/livez fails when the reconcile loop has not completed a tick for this long.</summary>
    public required TimeSpan LivenessTimeout { get; init; }
    /// <summary>A pod not labelled master becomes not ready only after its not-ready state lasted this long.</summary>
    public required TimeSpan ReplicaNotReadyAfter { get; init; }
    /// <summary>An isolated master fences its Redis (stops acknowledging writes).</summary>
    public required bool FenceEnabled { get; init; }
    /// <summary>The watch cache relists this often as a safety net.</summary>
    public required TimeSpan KubeResyncInterval { get; init; }
    public required string? KubeConfig { get; init; }
    /// <summary>verify: an extra Sentinel address (the Sentinel Service).</summary>
    public required NodeAddress? SentinelService { get; init; }

    /// <summary>The StatefulSet pod names, in ordinal order (derived from POD_NAME and the Redis node count).</summary>
    public IReadOnlyList<string> PodNames
    {
        get
        {
            var pod = Common.PodName ?? "redis-0";
            var stem = pod[..pod.LastIndexOf('-')];
            return Enumerable.Range(0, Common.RedisNodes.Count).Select(i => $"{stem}-{i}").ToArray();
        }
    }
}

public static partial class SidecarSettingsValidator
{
    public const int DefaultReconcileIntervalMs = 1000;
    public const int DefaultSentinelLossGraceMs = 5000;
    public const int DefaultMasterLabelWaitMs = 5000;

    public static (SidecarSettings? Settings, IReadOnlyList<string> Errors) Validate(RawOptions raw, SidecarRawOptions side, NodeMode mode, ISettingsFiles files)
    {
        var (common, commonErrors) = SettingsValidator.Validate(raw, mode, files);
        var errors = commonErrors.ToList();
        var redisPort = common?.RedisPort ?? SettingsValidator.DefaultRedisPort;

        NodeAddress local = default;
        var localText = SettingsValidator.Trimmed(side.LocalRedis) ?? $"127.0.0.1:{redisPort}";
        if (!NodeAddress.TryParse(localText, redisPort, out local, out var le))
            errors.Add($"LOCAL_REDIS='{SettingsValidator.Show(localText)}' is invalid: {le} (expected host:port of the Redis in this pod, e.g. 127.0.0.1:6379)");

        var labelName = SettingsValidator.Trimmed(side.MasterPodLabelName) ?? SidecarDefaults.MasterLabelName;
        if (!LabelKey().IsMatch(labelName) || labelName.Length > 317)
            errors.Add($"MASTER_POD_LABEL_NAME='{SettingsValidator.Show(labelName)}' is not a valid label key (expected [prefix/]name, e.g. redis-role)");
        var masterValue = SettingsValidator.Trimmed(side.MasterPodLabelValue) ?? SidecarDefaults.MasterLabelValue;
        if (!LabelValue().IsMatch(masterValue))
            errors.Add($"MASTER_POD_LABEL_VALUE='{SettingsValidator.Show(masterValue)}' is not a valid label value (expected 1-63 characters of A-Z a-z 0-9 . _ -)");
        string? replicaValue = side.ReplicaPodLabelValue is null ? SidecarDefaults.ReplicaLabelValue : side.ReplicaPodLabelValue.Trim();
        if (replicaValue.Length == 0) replicaValue = null;
        else if (!LabelValue().IsMatch(replicaValue))
            errors.Add($"REPLICA_POD_LABEL_VALUE='{SettingsValidator.Show(replicaValue)}' is not a valid label value (expected empty to remove the label, or 1-63 characters of A-Z a-z 0-9 . _ -)");
        if (replicaValue == masterValue)
            errors.Add($"REPLICA_POD_LABEL_VALUE equals MASTER_POD_LABEL_VALUE ('{masterValue}'; expected different values)");

        var condition = SettingsValidator.Trimmed(side.ReadinessConditionType) ?? SidecarDefaults.ReadinessConditionType;
        if (!LabelKey().IsMatch(condition))
            errors.Add($"READINESS_CONDITION_TYPE='{SettingsValidator.Show(condition)}' is invalid (expected a qualified name, e.g. redissidecars.io/ready)");

        var port = SettingsValidator.Int(errors, "HTTP_PORT", side.HttpPort, SidecarDefaults.HttpPort, 1, 65535);
        var httpHostText = SettingsValidator.Trimmed(side.HttpHost) ?? "0.0.0.0";
        if (!System.Net.IPAddress.TryParse(httpHostText, out var httpHost) || !HostName.IsValid(httpHostText))
        {
            errors.Add($"HTTP_HOST='{SettingsValidator.Show(httpHostText)}' is not an IP address (expected e.g. 0.0.0.0 for all addresses, or the pod IP)");
            httpHost = System.Net.IPAddress.Any;
        }
        var interval = SettingsValidator.Int(errors, "RECONCILE_INTERVAL_MS", side.ReconcileIntervalMs, DefaultReconcileIntervalMs, 100, 60_000);
        var grace = SettingsValidator.Int(errors, "SENTINEL_LOSS_GRACE_MS", side.SentinelLossGraceMs, DefaultSentinelLossGraceMs, 500, 600_000);
        var handover = SettingsValidator.Int(errors, "HANDOVER_TIMEOUT_MS", side.HandoverTimeoutMs, SidecarDefaults.HandoverTimeoutMs, 1000, 600_000);
        var labelWait = SettingsValidator.Int(errors, "MASTER_LABEL_WAIT_MS", side.MasterLabelWaitMs, DefaultMasterLabelWaitMs, 0, 600_000);
        var handoverPort = SettingsValidator.Int(errors, "HANDOVER_PORT", side.HandoverPort, SidecarDefaults.HandoverPort, 1, 65535);
        if (handoverPort == port) errors.Add($"HANDOVER_PORT equals HTTP_PORT ({port}; expected its own port: /handover is never served where /metrics is scraped)");
        var liveness = SettingsValidator.Int(errors, "LIVENESS_TIMEOUT_MS", side.LivenessTimeoutMs, 30_000, 1000, 3_600_000);
        var notReadyAfter = SettingsValidator.Int(errors, "REPLICA_NOT_READY_AFTER_MS", side.ReplicaNotReadyAfterMs, 3000, 0, 600_000);
        var fence = SettingsValidator.Bool(errors, "FENCE_ENABLED", side.FenceEnabled, true);
        var resync = SettingsValidator.Int(errors, "KUBE_RESYNC_INTERVAL_MS", side.KubeResyncIntervalMs, 600_000, 1000, 86_400_000);

        var kubeconfig = SettingsValidator.Trimmed(side.KubeConfig);
        if (kubeconfig is not null && !files.Exists(kubeconfig))
            errors.Add($"KUBECONFIG='{SettingsValidator.Show(kubeconfig)}' does not exist (expected a kubeconfig file; leave it unset in a cluster)");

        NodeAddress? service = null;
        if (SettingsValidator.Trimmed(side.RedisSentinelHost) is { } host)
        {
            var sentinelPort = SettingsValidator.Int(errors, "REDIS_SENTINEL_PORT", side.RedisSentinelPort, common?.SentinelPort ?? SettingsValidator.DefaultSentinelPort, 1, 65535);
            if (NodeAddress.TryParse(host, sentinelPort, out var s, out var se)) service = s;
            else errors.Add($"REDIS_SENTINEL_HOST='{SettingsValidator.Show(host)}' is invalid: {se} (expected the Sentinel Service host name)");
        }

        if (errors.Count > 0 || common is null) return (null, errors);
        return (new SidecarSettings
        {
            Common = common,
            LocalRedis = local,
            LabelName = labelName,
            MasterLabelValue = masterValue,
            ReplicaLabelValue = replicaValue,
            ReadinessConditionType = condition,
            HttpPort = port,
            HttpHost = httpHost,
            ReconcileInterval = TimeSpan.FromMilliseconds(interval),
            SentinelLossGrace = TimeSpan.FromMilliseconds(grace),
            HandoverTimeout = TimeSpan.FromMilliseconds(handover),
            MasterLabelWait = TimeSpan.FromMilliseconds(labelWait),
            HandoverPort = handoverPort,
            LivenessTimeout = TimeSpan.FromMilliseconds(liveness),
            ReplicaNotReadyAfter = TimeSpan.FromMilliseconds(notReadyAfter),
            FenceEnabled = fence,
            KubeResyncInterval = TimeSpan.FromMilliseconds(resync),
            KubeConfig = kubeconfig,
            SentinelService = service,
        }, errors);
    }

    [GeneratedRegex("^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex LabelKey();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
