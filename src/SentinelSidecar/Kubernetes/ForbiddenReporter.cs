using Microsoft.Extensions.Logging;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>The exact RBAC rule a denied request needs, logged once per rule.</summary>
public sealed class ForbiddenReporter(ILogger logger)
{
    readonly HashSet<string> reported = [];

    /// <summary>Logs the missing rule the first time it is seen; true when it was logged now.</summary>
    public bool Report(string verb, string group, string resource, string? resourceName)
    {
        var rule = Rule(verb, group, resource, resourceName);
        lock (reported)
            if (!reported.Add(rule)) return false;
        KubeLog.Forbidden(logger, verb, resourceName is null ? resource : $"{resource} \"{resourceName}\"", rule);
        return true;
    }

    /// <summary>The rule in a Role's terms: <c>apiGroups ["apps"], resources ["statefulsets"], verbs ["watch"], resourceNames ["redis"]</c>.</summary>
    public static string Rule(string verb, string group, string resource, string? resourceName) =>
        $"apiGroups [\"{group}\"], resources [\"{resource}\"], verbs [\"{verb}\"]" + (resourceName is null ? "" : $", resourceNames [\"{resourceName}\"]");
}
