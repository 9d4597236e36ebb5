using Microsoft.Extensions.Logging;

namespace RedisSidecars.Sidecar.Telemetry;

/// <summary>Log lines of the Kubernetes edge (event ids 100+). No secrets: only names, codes and reasons.</summary>
internal static partial class KubeLog
{
    [LoggerMessage(101, LogLevel.Warning, "Kubernetes API: {Resource} list/watch failed: {Problem}; again in {DelayMs} ms (the last known state is kept)")]
    public static partial void WatchFailed(ILogger logger, string resource, string problem, long delayMs);

    [LoggerMessage(102, LogLevel.Information, "Kubernetes API: {Resource} listed ({Count} objects, resourceVersion {ResourceVersion}): {Why}")]
    public static partial void Listed(ILogger logger, string resource, int count, string resourceVersion, string why);

    [LoggerMessage(103, LogLevel.Error, "Kubernetes API forbids {Verb} on {What}: the Role needs the rule {Rule}")]
    public static partial void Forbidden(ILogger logger, string verb, string what, string rule);

    [LoggerMessage(104, LogLevel.Information, "Kubernetes API: {Resource} watch is back after {Failures} failed attempt(s)")]
    public static partial void WatchRecovered(ILogger logger, string resource, int failures);

    [LoggerMessage(105, LogLevel.Debug, "Kubernetes API: {Resource} watch ended by the server at resourceVersion {ResourceVersion}; watching again from there")]
    public static partial void WatchEnded(ILogger logger, string resource, string resourceVersion);

    [LoggerMessage(108, LogLevel.Information, "Kubernetes API: {Resource} watch silent for {QuietMs} ms while {Why}: reopened from its resourceVersion (a connection dropped without a close shows nothing)")]
    public static partial void WatchReproved(ILogger logger, string resource, long quietMs, string why);

    [LoggerMessage(107, LogLevel.Debug, "Kubernetes API: {Resource} relisted by the resync timer ({Count} objects, resourceVersion {ResourceVersion})")]
    public static partial void Resynced(ILogger logger, string resource, int count, string resourceVersion);

    [LoggerMessage(106, LogLevel.Warning, "Kubernetes API: {Operation} failed: {Problem}")]
    public static partial void WriteFailed(ILogger logger, string operation, string problem);
}
