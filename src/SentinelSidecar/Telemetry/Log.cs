using Microsoft.Extensions.Logging;

namespace RedisSidecars.Sidecar.Telemetry;

/// <summary>Every log line of the sidecar: stable event ids, constant text, named fields. No secrets.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "redis-sidecar {Version} started: pod={Pod} namespace={Namespace} local={Local} sentinels={Sentinels} label={Label}")]
    public static partial void Started(ILogger logger, string version, string pod, string @namespace, string local, int sentinels, string label);

    [LoggerMessage(2, LogLevel.Information, "role label {From} -> {To} (ready {Ready}): {Reason}")]
    public static partial void RoleChanged(ILogger logger, string from, string to, bool ready, string reason);

    [LoggerMessage(3, LogLevel.Information, "{Signal} from {Sentinel}: master={Master} epoch={Epoch} newer={Newer} (false: already known from a poll or an earlier signal)")]
    public static partial void FailoverSignal(ILogger logger, string signal, string sentinel, string master, long epoch, bool newer);

    [LoggerMessage(19, LogLevel.Information, "+failover-state-wait-promotion from {Sentinel}: promoting {Replica} in place of {Master}; concerns the master this sidecar knows: {Applies}")]
    public static partial void PromotionStarted(ILogger logger, string sentinel, string replica, string master, bool applies);

    [LoggerMessage(4, LogLevel.Warning, "Sentinel {Sentinel}: {Problem}")]
    public static partial void SentinelProblem(ILogger logger, string sentinel, string problem);

    [LoggerMessage(5, LogLevel.Warning, "local Redis {Local}: {Problem}")]
    public static partial void LocalProblem(ILogger logger, string local, string problem);

    [LoggerMessage(6, LogLevel.Warning, "Kubernetes API: {Operation} failed: {Problem}")]
    public static partial void ApiProblem(ILogger logger, string operation, string problem);


    [LoggerMessage(8, LogLevel.Information, "handover: {Step}")]
    public static partial void Handover(ILogger logger, string step);

    [LoggerMessage(9, LogLevel.Warning, "handover: {Problem}")]
    public static partial void HandoverProblem(ILogger logger, string problem);

    [LoggerMessage(10, LogLevel.Warning, "waiting for pod {Peer} to drop the master label before labelling this pod master")]
    public static partial void WaitingForPeer(ILogger logger, string peer);

    [LoggerMessage(11, LogLevel.Warning, "pod {Peer} still carries the master label after {Seconds}s; its sidecar is gone or stuck; labelling this pod anyway")]
    public static partial void PeerStillLabelled(ILogger logger, string peer, double seconds);

    [LoggerMessage(12, LogLevel.Error, "reconcile failed: {Problem}")]
    public static partial void ReconcileFailed(ILogger logger, string problem);

    [LoggerMessage(13, LogLevel.Information, "shutting down: {Reason}")]
    public static partial void ShuttingDown(ILogger logger, string reason);


    [LoggerMessage(15, LogLevel.Information, "HTTP endpoints on port {Port}: {Paths}")]
    public static partial void Listening(ILogger logger, int port, string paths);

    [LoggerMessage(16, LogLevel.Information, "readiness -> {Ready}: {Reason}")]
    public static partial void Readiness(ILogger logger, bool ready, string reason);

    [LoggerMessage(18, LogLevel.Warning, "fence {Fenced}: {Reason}")]
    public static partial void Fence(ILogger logger, bool fenced, string reason);

    [LoggerMessage(17, LogLevel.Information, "replica-priority -> {Priority} (pod revision {Revision}, StatefulSet update revision {UpdateRevision})")]
    public static partial void ReplicaPriority(ILogger logger, int priority, string revision, string updateRevision);
}
