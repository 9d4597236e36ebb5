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
    /// <summary>/livez, /readyz, /metrics.</summary>
    public required int HttpPort { get; init; }
    /// <summary>The planned-handover endpoint's own port, exposed by no Service; never <see cref="HttpPort"/>.</summary>
    public required int HandoverPort { get; init; }
    public required System.Net.IPAddress HttpHost { get; init; }
    public required TimeSpan ReconcileInterval { get; init; }
    public required TimeSpan SentinelLossGrace { get; init; }
    public required TimeSpan HandoverTimeout { get; init; }
    public required TimeSpan MasterLabelWait { get; init; }
    /// <summary>/livez fails when the reconcile loop has not completed a tick for this long.</summary>
    public required TimeSpan LivenessTimeout { get; init; }
    /// <summary>A replica's not-ready state must last this long before readiness drops (a replica being reconfigured does not flap).</summary>
    public required TimeSpan ReplicaNotReadyAfter { get; init; }
    /// <summary>An isolated master (no Sentinel majority past the grace, replicas not confirmed in sync) stops acknowledging writes.</summary>
    public required bool FenceEnabled { get; init; }
    /// <summary>The watch cache relists this often, as a safety net behind the watch.</summary>
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
        const string localExpected = "host:port of the Redis in this pod, e.g. 127.0.0.1:6379";
        var localText = SettingsValidator.Present(errors, "LOCAL_REDIS", side.LocalRedis, localExpected) ?? $"127.0.0.1:{redisPort}";
        if (!NodeAddress.TryParse(localText, redisPort, out local, out var le))
            errors.Add($"LOCAL_REDIS='{SettingsValidator.Show(localText)}' is invalid: {le} (expected {localExpected})");

        var labelName = SettingsValidator.Present(errors, "MASTER_POD_LABEL_NAME", side.MasterPodLabelName, "a label key, e.g. redis-role") ?? SidecarDefaults.MasterLabelName;
        if (!LabelKey().IsMatch(labelName) || labelName.Length > 317)
            errors.Add($"MASTER_POD_LABEL_NAME='{SettingsValidator.Show(labelName)}' is not a valid label key (expected [prefix/]name, e.g. redis-role)");
        var masterValue = SettingsValidator.Present(errors, "MASTER_POD_LABEL_VALUE", side.MasterPodLabelValue, "1-63 characters of A-Z a-z 0-9 . _ -") ?? SidecarDefaults.MasterLabelValue;
        if (!LabelValue().IsMatch(masterValue))
            errors.Add($"MASTER_POD_LABEL_VALUE='{SettingsValidator.Show(masterValue)}' is not a valid label value (expected 1-63 characters of A-Z a-z 0-9 . _ -)");

        // The one setting where empty means something: REPLICA_POD_LABEL_VALUE="" removes the label from replicas.
        const string replicaExpected = "empty to remove the label, or 1-63 characters of A-Z a-z 0-9 . _ -";
        string? replicaValue = side.ReplicaPodLabelValue switch
        {
            null => SidecarDefaults.ReplicaLabelValue,
            "" => null,
            var v => SettingsValidator.Present(errors, "REPLICA_POD_LABEL_VALUE", v, replicaExpected, offerDefault: false),
        };
        if (replicaValue is not null && !LabelValue().IsMatch(replicaValue))
            errors.Add($"REPLICA_POD_LABEL_VALUE='{SettingsValidator.Show(replicaValue)}' is not a valid label value (expected {replicaExpected})");
        if (replicaValue == masterValue)
            errors.Add($"REPLICA_POD_LABEL_VALUE equals MASTER_POD_LABEL_VALUE ('{masterValue}'; expected different values)");

        var condition = SettingsValidator.Present(errors, "READINESS_CONDITION_TYPE", side.ReadinessConditionType, "a qualified name, e.g. redissidecars.io/ready")
            ?? SidecarDefaults.ReadinessConditionType;
        if (!LabelKey().IsMatch(condition))
            errors.Add($"READINESS_CONDITION_TYPE='{SettingsValidator.Show(condition)}' is invalid (expected a qualified name, e.g. redissidecars.io/ready)");

        var before = errors.Count;
        var port = SettingsValidator.Int(errors, "HTTP_PORT", side.HttpPort, SidecarDefaults.HttpPort, 1, 65535);
        var handoverPort = SettingsValidator.Int(errors, "HANDOVER_PORT", side.HandoverPort, SidecarDefaults.HandoverPort, 1, 65535);
        if (errors.Count == before)
        {
            if (handoverPort == port)
                errors.Add($"HANDOVER_PORT={handoverPort} equals HTTP_PORT (expected a port of its own: the handover endpoint is exposed by no Service, HTTP_PORT's endpoints are)");
            // The sidecar shares its pod's network namespace with Redis.
            if (mode == NodeMode.Redis && common is not null)
                foreach (var (name, value) in new[] { ("HTTP_PORT", port), ("HANDOVER_PORT", handoverPort) }.Where(p => p.Item2 == common.RedisPort))
                    errors.Add($"{name}={value} equals REDIS_PORT (expected a port the Redis in this pod does not use)");
        }
        var httpHostText = SettingsValidator.Present(errors, "HTTP_HOST", side.HttpHost, "an IP address, e.g. 0.0.0.0 for all addresses, or the pod IP") ?? "0.0.0.0";
        if (!System.Net.IPAddress.TryParse(httpHostText, out var httpHost) || !HostName.IsValid(httpHostText))
        {
            errors.Add($"HTTP_HOST='{SettingsValidator.Show(httpHostText)}' is not an IP address (expected e.g. 0.0.0.0 for all addresses, or the pod IP)");
            httpHost = System.Net.IPAddress.Any;
        }
        var grace = SettingsValidator.Int(errors, "SENTINEL_LOSS_GRACE_MS", side.SentinelLossGraceMs, DefaultSentinelLossGraceMs, 500, 600_000);
        var handover = SettingsValidator.Int(errors, "HANDOVER_TIMEOUT_MS", side.HandoverTimeoutMs, SidecarDefaults.HandoverTimeoutMs, 1000, 600_000);
        var labelWait = SettingsValidator.Int(errors, "MASTER_LABEL_WAIT_MS", side.MasterLabelWaitMs, DefaultMasterLabelWaitMs, 0, 600_000);
        before = errors.Count;
        var interval = SettingsValidator.Int(errors, "RECONCILE_INTERVAL_MS", side.ReconcileIntervalMs, DefaultReconcileIntervalMs, 100, 60_000);
        var liveness = SettingsValidator.Int(errors, "LIVENESS_TIMEOUT_MS", side.LivenessTimeoutMs, SidecarDefaults.LivenessTimeoutMs, 1000, 3_600_000);
        if (errors.Count == before && liveness < 2 * interval)
            errors.Add($"LIVENESS_TIMEOUT_MS={liveness} is shorter than two RECONCILE_INTERVAL_MS of {interval} (expected at least {2 * interval}: one slow tick must not restart the container)");
        var replicaNotReady = SettingsValidator.Int(errors, "REPLICA_NOT_READY_AFTER_MS", side.ReplicaNotReadyAfterMs, SidecarDefaults.ReplicaNotReadyAfterMs, 0, 600_000);
        var fence = SettingsValidator.Bool(errors, "FENCE_ENABLED", side.FenceEnabled, SidecarDefaults.FenceEnabled);
        var resync = SettingsValidator.Int(errors, "KUBE_RESYNC_INTERVAL_MS", side.KubeResyncIntervalMs, SidecarDefaults.KubeResyncIntervalMs, 1000, 86_400_000);

        const string kubeExpected = "a readable kubeconfig file; leave KUBECONFIG unset in a cluster";
        var kubeconfig = SettingsValidator.Present(errors, "KUBECONFIG", side.KubeConfig, kubeExpected, "or remove KUBECONFIG to use the in-cluster service account");
        if (kubeconfig is not null && PathProblem.TryRead(files, kubeconfig, out var kubeProblem) is null)
            errors.Add($"KUBECONFIG='{SettingsValidator.Show(kubeconfig)}' {kubeProblem} (expected {kubeExpected})");

        NodeAddress? service = null;
        var serviceHost = SettingsValidator.Present(errors, "REDIS_SENTINEL_HOST", side.RedisSentinelHost, "the Sentinel Service host name");
        before = errors.Count;
        var sentinelPort = SettingsValidator.Int(errors, "REDIS_SENTINEL_PORT", side.RedisSentinelPort, common?.SentinelPort ?? SettingsValidator.DefaultSentinelPort, 1, 65535);
        var sentinelPortGiven = side.RedisSentinelPort is not null && errors.Count == before;
        if (serviceHost is not null)
        {
            if (NodeAddress.TryParse(serviceHost, sentinelPort, out var s, out var se)) service = s;
            else errors.Add($"REDIS_SENTINEL_HOST='{SettingsValidator.Show(serviceHost)}' is invalid: {se} (expected the Sentinel Service host name)");
        }
        else if (side.RedisSentinelHost is null && sentinelPortGiven)
            errors.Add("REDIS_SENTINEL_PORT is set but REDIS_SENTINEL_HOST is not (expected both, or neither: the port alone names no Sentinel)");

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
            HandoverPort = handoverPort,
            HttpHost = httpHost,
            ReconcileInterval = TimeSpan.FromMilliseconds(interval),
            SentinelLossGrace = TimeSpan.FromMilliseconds(grace),
            HandoverTimeout = TimeSpan.FromMilliseconds(handover),
            MasterLabelWait = TimeSpan.FromMilliseconds(labelWait),
            LivenessTimeout = TimeSpan.FromMilliseconds(liveness),
            ReplicaNotReadyAfter = TimeSpan.FromMilliseconds(replicaNotReady),
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
