using System.Text.RegularExpressions;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E;

/// <summary>The suite's inputs: command line first, then environment variables (scripts/e2e.sh documents both).</summary>
public sealed partial record E2EOptions(
    string Overlay,
    string? Namespace,
    ImageReference? InitImage,
    ImageReference? SidecarImage,
    ImageReference? RedisImage,
    bool Keep,
    string? ManifestsDir,
    TimeSpan RolloutTimeout)
{
    public const string Usage = """
        usage: scripts/e2e.sh [--overlay dev] [--namespace NAME] [--init-image REF] [--sidecar-image REF]
                              [--redis-image REF] [--timeout-minutes 10] [--keep]
          KUBECONFIG                   the cluster (kubectl's default when unset)
          --overlay, E2E_OVERLAY       overlay under manifests/overlays (default dev; TLS overlays are refused)
          --namespace, E2E_NAMESPACE   a namespace that does not exist yet (default e2e-<random>); deleted at the end
          --init-image, REDIS_INIT_IMAGE        redis-init image (default: the overlay's)
          --sidecar-image, REDIS_SIDECAR_IMAGE  redis-sidecar image (default: the overlay's)
          --redis-image, REDIS_IMAGE            Redis/Valkey server image (default: the overlay's)
          --timeout-minutes, E2E_TIMEOUT_MINUTES  bound for each rollout and wait (default 10)
          --keep                       leave the namespace in place at the end (it is printed)
        """;

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    /// <summary>Parses and validates everything; every problem is one line in <paramref name="errors"/>.</summary>
    public static E2EOptions? Parse(IReadOnlyList<string> args, Func<string, string?> env, out IReadOnlyList<string> errors, out bool help)
    {
        var problems = new List<string>();
        help = false;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var keep = false;
        string[] valued = ["--overlay", "--namespace", "--init-image", "--sidecar-image", "--redis-image", "--manifests", "--timeout-minutes"];
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a is "--help" or "-h") { help = true; continue; }
            if (a == "--keep") { keep = true; continue; }
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? a[..eq] : a;
            if (!valued.Contains(name)) { problems.Add($"unknown argument '{a}'"); continue; }
            var value = eq > 0 ? a[(eq + 1)..] : i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            if (value is null) { problems.Add($"{name} needs a value"); continue; }
            values[name] = value;
        }
        string? Get(string flag, string variable) => values.TryGetValue(flag, out var v) ? v : env(variable) is { Length: > 0 } e ? e : null;

        var overlay = Get("--overlay", "E2E_OVERLAY") ?? "dev";
        if (!DnsLabel().IsMatch(overlay)) problems.Add($"--overlay '{overlay}' is not an overlay name (lower-case letters, digits, '-')");
        var ns = Get("--namespace", "E2E_NAMESPACE");
        if (ns is not null && !DnsLabel().IsMatch(ns)) problems.Add($"--namespace '{ns}' is not a valid namespace name (a DNS label: lower-case letters, digits, '-', at most 63)");
        ImageReference? Image(string flag, string variable)
        {
            if (Get(flag, variable) is not { } text) return null;
            var image = ImageReference.TryParse(text, out var problem);
            if (image is null) problems.Add($"{flag}: {problem}");
            return image;
        }
        var init = Image("--init-image", "REDIS_INIT_IMAGE");
        var sidecar = Image("--sidecar-image", "REDIS_SIDECAR_IMAGE");
        var redis = Image("--redis-image", "REDIS_IMAGE");
        var minutes = 10;
        if (Get("--timeout-minutes", "E2E_TIMEOUT_MINUTES") is { } m && (!int.TryParse(m, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out minutes) || minutes is < 1 or > 120))
            problems.Add($"--timeout-minutes '{m}' must be a whole number of minutes from 1 to 120");

        errors = problems;
        return problems.Count == 0
            ? new E2EOptions(overlay, ns, init, sidecar, redis, keep, values.GetValueOrDefault("--manifests"), TimeSpan.FromMinutes(minutes))
            : null;
    }

    /// <summary>e2e-xxxxxx: a namespace name unlikely to exist.</summary>
    public static string RandomNamespace() => "e2e-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
}
