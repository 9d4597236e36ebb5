using System.Reflection;
using Microsoft.Extensions.Configuration;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>What the programs read, derived from the code (never a copy of the list).</summary>
public static class Contract
{
    /// <summary>Every environment variable name redis-init and redis-sidecar bind (the [ConfigurationKeyName] of each option).</summary>
    public static IReadOnlySet<string> SettingNames { get; } = KeyNames(typeof(RawOptions)).Concat(KeyNames(typeof(SidecarRawOptions))).ToHashSet(StringComparer.Ordinal);

    public static IReadOnlySet<string> CommonSettingNames { get; } = KeyNames(typeof(RawOptions)).ToHashSet(StringComparer.Ordinal);

    static IEnumerable<string> KeyNames(Type options) =>
        options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name
                         ?? throw new InvalidOperationException($"{options.Name}.{p.Name} has no [ConfigurationKeyName]: the manifests cannot name it"));

    /// <summary>The property behind an env name (to prove a name is really bound, and for messages).</summary>
    public static string PropertyOf(string envName) =>
        typeof(RawOptions).GetProperties().Concat(typeof(SidecarRawOptions).GetProperties())
            .Single(p => p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name == envName).Name;

    /// <summary>Variables set on third-party containers, which our programs do not read, each with its reason.
    /// Keyed by image repository (without tag).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> PassThrough =
        new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["oliver006/redis_exporter"] = new Dictionary<string, string>
            {
                ["REDIS_ADDR"] = "redis_exporter: the Redis to scrape (the pod's own, over loopback)",
                ["REDIS_PASSWORD"] = "redis_exporter: the default user's password (from Secret redis-auth)",
                ["REDIS_EXPORTER_TLS_CA_CERT_FILE"] = "redis_exporter: CA for rediss:// when TLS is on (prod)",
            },
        };

    public static bool IsOurImage(string image) => Program(image) is not null;

    /// <summary>"redis-init" or "redis-sidecar" for our images, else null.</summary>
    public static string? Program(string image)
    {
        var repo = Repository(image);
        if (repo.EndsWith("/redis-init", StringComparison.Ordinal)) return "redis-init";
        if (repo.EndsWith("/redis-sidecar", StringComparison.Ordinal)) return "redis-sidecar";
        return null;
    }

    /// <summary>The image reference without its tag or digest.</summary>
    public static string Repository(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0) image = image[..at];
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? image[..colon] : image;
    }

    public static string? Tag(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0) image = image[..at];
        var slash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > slash ? image[(colon + 1)..] : null;
    }
}
