using System.Globalization;
using System.Text.RegularExpressions;
using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Settings;

/// <summary>
/// Turns <see cref="RawOptions"/> into <see cref="CommonSettings"/>. Collects every error without
/// short-circuiting; each names the variable, the bad value (never a secret) and what was expected.
/// </summary>
public static partial class SettingsValidator
{
    public const int DefaultRedisPort = 6379;
    public const int DefaultSentinelPort = 26379;
    /// <summary>5 s: long enough that a GC pause or a slow node does not trigger a failover, short enough that
    /// clients see a few seconds of errors at most (Redis' own default, 30 s, is far too slow for a cache).</summary>
    public const int DefaultDownAfterMs = 5000;
    /// <summary>30 s: a failover of a small set completes in well under that; Sentinel waits 2× this before
    /// retrying a failed failover, so a longer value only delays recovery.</summary>
    public const int DefaultFailoverTimeoutMs = 30000;
    /// <summary>1: only one replica resyncs at a time, the others keep serving reads.</summary>
    public const int DefaultParallelSyncs = 1;
    /// <summary>A master that rebooted is treated as down for this long, so Sentinel promotes a replica
    /// (whose data is at least as fresh) instead of keeping a master that may have restarted with less.</summary>
    public const int DefaultMasterRebootDownAfterMs = DefaultDownAfterMs;
    /// <summary>60 s: covers down-after (5 s), the election and promotion (seconds), with room for one retry.</summary>
    public const int DefaultMasterWaitTimeoutMs = 60000;
    /// <summary>10 s for the whole discovery (Sentinels, then peers); each single call gets 1 s at most.</summary>
    public const int DefaultDiscoveryTimeoutMs = 10000;

    public static (CommonSettings? Settings, IReadOnlyList<string> Errors) Validate(RawOptions raw, NodeMode mode, ISettingsFiles files)
    {
        var errors = new List<string>();

        var ns = Present(errors, "POD_NAMESPACE", raw.PodNamespace, "a DNS label, e.g. default; set it from the downward API metadata.namespace") ?? "default";
        if (!DnsLabel().IsMatch(ns)) errors.Add($"POD_NAMESPACE='{Show(ns)}' is not a valid namespace (expected a DNS label, e.g. default)");
        var domain = Present(errors, "CLUSTER_DOMAIN", raw.ClusterDomain, "a DNS domain, e.g. cluster.local") ?? "cluster.local";
        if (!HostName.IsValid(domain)) errors.Add($"CLUSTER_DOMAIN='{Show(domain)}' is not a valid DNS domain (expected e.g. cluster.local)");

        const string podNameExpected = "<statefulset>-<ordinal>, e.g. redis-0; set it from the downward API metadata.name";
        var podName = Present(errors, "POD_NAME", raw.PodName, podNameExpected, offerDefault: false);
        string? podBase = null;
        var ordinal = 0;
        if (podName is null)
        {
            if (raw.PodName is null && mode != NodeMode.Verify) errors.Add($"POD_NAME is required (expected {podNameExpected})");
        }
        else
        {
            var m = PodNamePattern().Match(podName);
            if (!m.Success || podName.Length > 63 || !int.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out ordinal))
            {
                if (mode != NodeMode.Verify)
                    errors.Add($"POD_NAME='{Show(podName)}' is malformed (expected <statefulset>-<ordinal> in lower case, e.g. redis-0)");
                ordinal = 0;
            }
            else podBase = m.Groups[1].Value;
        }

        var redisPort = Int(errors, "REDIS_PORT", raw.RedisPort, DefaultRedisPort, 1, 65535);
        var sentinelPort = Int(errors, "SENTINEL_PORT", raw.SentinelPort, DefaultSentinelPort, 1, 65535);

        var redisSts = Label(errors, "REDIS_STATEFULSET", raw.RedisStatefulSet) ?? (mode == NodeMode.Redis ? podBase : null) ?? "redis";
        var sentinelSts = Label(errors, "SENTINEL_STATEFULSET", raw.SentinelStatefulSet) ?? (mode == NodeMode.Sentinel ? podBase : null) ?? "sentinel";
        var redisHeadless = Label(errors, "REDIS_HEADLESS_SERVICE", raw.RedisHeadlessService) ?? $"{redisSts}-headless";
        var sentinelHeadless = Label(errors, "SENTINEL_HEADLESS_SERVICE", raw.SentinelHeadlessService) ?? $"{sentinelSts}-headless";
        var redisReplicas = Int(errors, "REDIS_REPLICAS", raw.RedisReplicas, 3, 1, 100);
        var sentinelReplicas = Int(errors, "SENTINEL_REPLICAS", raw.SentinelReplicas, 3, 1, 100);

        var redisNodes = Nodes(errors, "REDIS_NODES", raw.RedisNodes, redisPort,
            () => Derive(redisSts, redisHeadless, ns, domain, redisReplicas, redisPort));
        var sentinelNodes = Nodes(errors, "SENTINEL_NODES", raw.SentinelNodes, sentinelPort,
            () => Derive(sentinelSts, sentinelHeadless, ns, domain, sentinelReplicas, sentinelPort));

        var ownPort = mode == NodeMode.Sentinel ? sentinelPort : redisPort;
        NodeAddress? self = null;
        var aliases = new List<NodeAddress>();
        var announceHost = Present(errors, "ANNOUNCE_HOST", raw.AnnounceHost, "a host name or IP address");
        if (mode != NodeMode.Verify && podName is not null && podBase is not null)
        {
            var ownList = mode == NodeMode.Sentinel ? sentinelNodes : redisNodes;
            var ownVar = mode == NodeMode.Sentinel ? "SENTINEL_NODES" : "REDIS_NODES";
            if (ownList is not null && ordinal >= ownList.Count)
                errors.Add($"POD_NAME='{Show(podName)}' has ordinal {ordinal}, outside {ownVar} ({ownList.Count} entries; expected ordinal 0-{ownList.Count - 1})");

            var announce = announceHost
                ?? $"{podName}.{(mode == NodeMode.Sentinel ? sentinelHeadless : redisHeadless)}.{ns}.svc.{domain}";
            if (NodeAddress.TryParse(announce, ownPort, out var a, out var err)) self = a;
            else errors.Add($"ANNOUNCE_HOST='{Show(announce)}' is invalid: {err} (expected a host name or IP address)");
        }
        if (Present(errors, "POD_IP", raw.PodIp, "an IP address; set it from the downward API status.podIP") is { } podIp)
        {
            if (System.Net.IPAddress.TryParse(podIp, out _) && HostName.IsValid(podIp)) aliases.Add(new NodeAddress(podIp, ownPort));
            else errors.Add($"POD_IP='{Show(podIp)}' is invalid (expected an IP address; set it from the downward API status.podIP)");
        }

        var setName = Present(errors, "MASTER_SET_NAME", raw.MasterSetName, "1-64 characters of A-Z a-z 0-9 . _ -") ?? "mymaster";
        if (!MasterSetNamePattern().IsMatch(setName))
            errors.Add($"MASTER_SET_NAME='{Show(setName)}' is invalid (expected 1-64 characters of A-Z a-z 0-9 . _ -)");

        var sentinelCount = sentinelNodes?.Count ?? sentinelReplicas;
        var quorum = Int(errors, "SENTINEL_QUORUM", raw.SentinelQuorum, sentinelCount / 2 + 1, 1, Math.Max(1, sentinelCount));
        // Below 2 s Sentinel can fail over a healthy, just-promoted master: it reconnects to a new master at most
        // once a second and still counts its peers' "down" answers about the old one.
        var downAfter = Int(errors, "SENTINEL_DOWN_AFTER_MS", raw.SentinelDownAfterMs, DefaultDownAfterMs, 2000, 3_600_000);
        var failoverTimeout = Int(errors, "SENTINEL_FAILOVER_TIMEOUT_MS", raw.SentinelFailoverTimeoutMs, DefaultFailoverTimeoutMs, 500, 3_600_000);
        var parallelSyncs = Int(errors, "SENTINEL_PARALLEL_SYNCS", raw.SentinelParallelSyncs, DefaultParallelSyncs, 1, 100);
        var rebootDownAfter = Int(errors, "SENTINEL_MASTER_REBOOT_DOWN_AFTER_MS", raw.SentinelMasterRebootDownAfterMs, downAfter, 0, 3_600_000);

        var redisPassword = SecretValue(errors, files, "REDIS_PASSWORD", raw.RedisPassword, raw.RedisPasswordFile);
        var sentinelPassword = SecretValue(errors, files, "SENTINEL_PASSWORD", raw.SentinelPassword, raw.SentinelPasswordFile);
        if (mode == NodeMode.Sentinel)
        {
            SentinelRewritable(errors, "REDIS_PASSWORD", redisPassword);
            SentinelRewritable(errors, "SENTINEL_PASSWORD", sentinelPassword);
        }
        var username = Present(errors, "REDIS_USERNAME", raw.RedisUsername, "1-128 characters of A-Z a-z 0-9 . _ - @");
        if (username is not null)
        {
            if (!UserNamePattern().IsMatch(username))
                errors.Add($"REDIS_USERNAME='{Show(username)}' is invalid (expected 1-128 characters of A-Z a-z 0-9 . _ - @)");
            if (raw.RedisPassword is null && raw.RedisPasswordFile is null)
                errors.Add("REDIS_USERNAME is set but REDIS_PASSWORD / REDIS_PASSWORD_FILE is not (expected a password for the ACL user)");
        }

        var dataDir = Present(errors, "DATA_DIR", raw.DataDir, "an absolute path, e.g. /data") ?? "/data";
        if (!Path.IsPathFullyQualified(dataDir)) errors.Add($"DATA_DIR='{Show(dataDir)}' is not an absolute path (expected e.g. /data)");

        var masterWait = Int(errors, "MASTER_WAIT_TIMEOUT_MS", raw.MasterWaitTimeoutMs, DefaultMasterWaitTimeoutMs, 1000, 3_600_000);
        var discovery = Int(errors, "DISCOVERY_TIMEOUT_MS", raw.DiscoveryTimeoutMs, DefaultDiscoveryTimeoutMs, 100, 120_000);

        int? minReplicas = raw.MinReplicasToWrite is null ? null : Int(errors, "MIN_REPLICAS_TO_WRITE", raw.MinReplicasToWrite, 0, 0, 100);
        var before = errors.Count;
        int? minLag = raw.MinReplicasMaxLag is null ? null : Int(errors, "MIN_REPLICAS_MAX_LAG", raw.MinReplicasMaxLag, 10, 1, 3600);
        if (minLag is not null && errors.Count == before && raw.MinReplicasToWrite is null)
            errors.Add("MIN_REPLICAS_MAX_LAG is set but MIN_REPLICAS_TO_WRITE is not (expected both: the lag bound has no effect without min-replicas-to-write)");

        TlsSettings? tls = null;
        var tlsOn = Bool(errors, "TLS_ENABLED", raw.TlsEnabled, false);
        var tlsFiles = new (string Name, string? Raw)[] { ("TLS_CA_FILE", raw.TlsCaFile), ("TLS_CERT_FILE", raw.TlsCertFile), ("TLS_KEY_FILE", raw.TlsKeyFile) };
        var tlsPaths = tlsFiles.Select(f => Present(errors, f.Name, f.Raw, "the path of a readable PEM file")).ToArray();
        if (tlsOn)
        {
            var checkedPaths = tlsFiles.Select((f, i) => RequiredFile(errors, files, f.Name, f.Raw, tlsPaths[i])).ToArray();
            if (checkedPaths.All(p => p is not null)) tls = new TlsSettings(checkedPaths[0]!, checkedPaths[1]!, checkedPaths[2]!);
        }
        else if (raw.TlsEnabled is null)
        {
            // Files given without TLS_ENABLED: asked for TLS, but would get plain text.
            foreach (var f in tlsFiles.Where((_, i) => tlsPaths[i] is not null))
                errors.Add($"{f.Name} is set but TLS_ENABLED is not (expected TLS_ENABLED=true to use TLS, or TLS_ENABLED=false to run without it)");
        }

        if (errors.Count > 0) return (null, errors);

        return (new CommonSettings
        {
            Mode = mode,
            PodName = podName,
            Ordinal = ordinal,
            Namespace = ns,
            RedisNodes = redisNodes!,
            SentinelNodes = sentinelNodes!,
            Self = self,
            SelfAliases = aliases,
            RedisPort = redisPort,
            SentinelPort = sentinelPort,
            MasterSetName = setName,
            SentinelQuorum = quorum,
            DownAfterMs = downAfter,
            FailoverTimeoutMs = failoverTimeout,
            ParallelSyncs = parallelSyncs,
            MasterRebootDownAfterMs = rebootDownAfter,
            RedisPassword = redisPassword,
            RedisUsername = username,
            SentinelPassword = sentinelPassword,
            DataDir = dataDir,
            MasterWaitTimeout = TimeSpan.FromMilliseconds(masterWait),
            DiscoveryTimeout = TimeSpan.FromMilliseconds(discovery),
            MinReplicasToWrite = minReplicas,
            MinReplicasMaxLag = minLag,
            Tls = tls,
        }, errors);
    }

    /// <summary>Joins errors into the single line the programs print.</summary>
    public static string OneLine(IEnumerable<string> errors) => string.Join("; ", errors);

    /// <summary>
    /// A setting as the validators use it: null when the variable is unset (its default applies), else the trimmed value.
    /// Set but empty or blank, and a Kubernetes service-link value (<see cref="ServiceLink"/>), are errors naming the
    /// variable, never a silent default. (Microsoft.Extensions.Configuration keeps the difference: an environment
    /// variable, JSON key or <c>--NAME=</c> set to "" binds as "", an unset one as null.)
    /// </summary>
    /// <param name="expected">What a valid value looks like, for the error line.</param>
    /// <param name="unset">How to get the default instead, for the error line (default: remove the variable).</param>
    /// <param name="offerDefault">False when there is no default to offer (a required setting, or <paramref name="expected"/> says it all).</param>
    internal static string? Present(List<string> errors, string name, string? raw, string expected, string? unset = null, bool offerDefault = true)
    {
        if (raw is null) return null;
        var t = raw.Trim();
        if (t.Length == 0)
        {
            var how = offerDefault ? "; " + (unset ?? $"or remove {name} to use the default") : "";
            errors.Add($"{name} is set but {(raw.Length == 0 ? "empty" : "blank")} (expected {expected}{how})");
            return null;
        }
        if (ServiceLink.IsServiceLinkValue(t))
        {
            errors.Add(ServiceLink.Error(name, t, expected));
            return null;
        }
        return t;
    }

    /// <summary>An untrusted (non-secret) value shortened and stripped of control characters for an error line.</summary>
    internal static string Show(string? s) => NodeAddress.Printable(s);

    public static int Int(List<string> errors, string name, string? raw, int fallback, int min, int max)
    {
        var expected = $"a whole number from {min} to {max}";
        var t = Present(errors, name, raw, expected, $"or remove {name} for the default {fallback.ToString(CultureInfo.InvariantCulture)}");
        if (t is null) return fallback;
        if (int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max) return v;
        errors.Add($"{name}='{Show(t)}' is invalid (expected {expected})");
        return fallback;
    }

    public static bool Bool(List<string> errors, string name, string? raw, bool fallback)
    {
        var t = Present(errors, name, raw, "true or false", $"or remove {name} for the default {(fallback ? "true" : "false")}")?.ToLowerInvariant();
        switch (t)
        {
            case null: return fallback;
            case "true" or "1" or "yes" or "on": return true;
            case "false" or "0" or "no" or "off": return false;
            default:
                errors.Add($"{name}='{Show(raw)}' is invalid (expected true or false)");
                return fallback;
        }
    }

    /// <summary>A lower-case DNS label setting (StatefulSet and Service names); null when unset or already reported.</summary>
    static string? Label(List<string> errors, string name, string? raw)
    {
        const string expected = "a lower-case DNS label, e.g. redis";
        var value = Present(errors, name, raw, expected);
        if (value is null || DnsLabel().IsMatch(value)) return value;
        errors.Add($"{name}='{Show(value)}' is invalid (expected {expected})");
        return null;
    }

    static IReadOnlyList<NodeAddress>? Nodes(List<string> errors, string name, string? raw, int defaultPort, Func<IReadOnlyList<NodeAddress>> derive)
    {
        const string expected = "host:port,host:port,… in ordinal order";
        var text = Present(errors, name, raw, expected, $"or remove {name} to derive it");
        if (text is null)
        {
            if (raw is not null) return null; // reported
            try { return derive(); }
            catch (ArgumentException) { return null; } // the parts it is derived from already reported their errors
        }
        if (NodeAddress.TryParseList(text, defaultPort, out var list, out var err)) return list;
        errors.Add($"{name}='{Show(text)}' is malformed: {err} (expected {expected})");
        return null;
    }

    static IReadOnlyList<NodeAddress> Derive(string sts, string headless, string ns, string domain, int count, int port) =>
        Enumerable.Range(0, count).Select(i => new NodeAddress($"{sts}-{i}.{headless}.{ns}.svc.{domain}", port)).ToArray();

    /// <summary>
    /// A password from <paramref name="name"/> or <c>&lt;name&gt;_FILE</c>. Asked for but empty (the variable set to "",
    /// the file empty after its one trailing newline, or only whitespace) is an error: it would turn authentication off.
    /// </summary>
    static Secret? SecretValue(List<string> errors, ISettingsFiles files, string name, string? direct, string? file)
    {
        var fileName = $"{name}_FILE";
        const string fileExpected = "the path of a file holding the password, e.g. a mounted Secret key";
        const string weaker = "an empty password would turn authentication off";
        if (direct is not null && file is not null)
        {
            errors.Add($"{name} and {fileName} are both set (expected only one; prefer {fileName} with a mounted Secret)");
            return null;
        }

        string value, source;
        if (file is not null)
        {
            if (Present(errors, fileName, file, fileExpected, $"or remove {fileName} to run without a password") is not { } path) return null;
            if (PathProblem.TryRead(files, path, out var problem) is not { } text)
            {
                errors.Add($"{fileName}='{Show(path)}' {problem} (expected {fileExpected})");
                return null;
            }
            // A file written by `echo` or `kubectl create secret --from-file` usually ends in one newline.
            if (text.EndsWith("\r\n", StringComparison.Ordinal)) text = text[..^2];
            else if (text.EndsWith('\n')) text = text[..^1];
            source = $"{fileName}='{Show(path)}'";
            if (string.IsNullOrWhiteSpace(text))
            {
                errors.Add($"{source} holds no password ({(text.Length == 0 ? "the file is empty" : "only whitespace")}; expected the password, on one line: {weaker})");
                return null;
            }
            value = text;
        }
        else if (direct is not null)
        {
            if (string.IsNullOrWhiteSpace(direct))
            {
                errors.Add($"{name} is set but {(direct.Length == 0 ? "empty" : "blank")} (expected the password: {weaker}; remove {name} to run without a password)");
                return null;
            }
            value = direct;
            source = name;
        }
        else return null;

        if (value.Contains('\n') || value.Contains('\r'))
        {
            errors.Add($"{source} contains a line break inside the password (expected a single line; passwords may not contain newlines)");
            return null;
        }
        if (value.Contains('\0'))
        {
            errors.Add($"{source} contains a NUL byte (expected a password without NUL bytes)");
            return null;
        }
        return new Secret(value);
    }

    /// <summary>
    /// Sentinel rewrites its config on every failover and writes <c>auth-pass</c> / <c>sentinel-pass</c>
    /// unquoted (Redis 7.0); a value with whitespace or quotes then makes the file unparseable when the
    /// Sentinel container restarts. Refuse it here rather than leave that to fail later.
    /// </summary>
    static void SentinelRewritable(List<string> errors, string name, Secret? secret)
    {
        if (secret is null) return;
        if (secret.Reveal().Any(c => c is ' ' or '\t' or '"' or '\'' || char.IsControl(c)))
            errors.Add($"{name} contains a space, tab, quote or control character, which Redis Sentinel cannot keep: it rewrites its config unquoted and then fails to parse it on restart (expected a password without spaces, tabs or quotes for deployments with Sentinel)");
    }

    /// <summary>A file the programs read (TLS PEM files): present, a file, and readable by this process.</summary>
    static string? RequiredFile(List<string> errors, ISettingsFiles files, string name, string? raw, string? path)
    {
        const string expected = "the path of a readable PEM file";
        if (raw is null) { errors.Add($"{name} is required when TLS_ENABLED=true (expected {expected})"); return null; }
        if (path is null) return null; // reported
        if (PathProblem.TryRead(files, path, out var problem) is null)
        {
            errors.Add($"{name}='{Show(path)}' {problem} (expected {expected})");
            return null;
        }
        return path;
    }

    [GeneratedRegex("^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)-([0-9]+)$")]
    private static partial Regex PodNamePattern();

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex MasterSetNamePattern();

    [GeneratedRegex("^[A-Za-z0-9._@-]{1,128}$")]
    private static partial Regex UserNamePattern();
}
