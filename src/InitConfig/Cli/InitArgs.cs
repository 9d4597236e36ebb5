namespace RedisSidecars.InitConfig.Cli;

public enum InitMode { Redis, Sentinel, Help, Version }

/// <summary>The parsed command line of <c>redis-init</c>.</summary>
public sealed record InitArgs(InitMode Mode, string Output, string? Template, string? ConfigFile, IReadOnlyList<string> SettingArgs)
{
    public const string Usage = """
        usage: redis-init redis    [--output PATH] [--template PATH] [--config FILE.json] [--NAME=value ...]
               redis-init sentinel [--output PATH] [--template PATH] [--config FILE.json] [--NAME=value ...]
               redis-init --help | --version

        Finds the current master (Sentinel majority, else the Redis peers' ROLE, else pod-0) and writes
        redis.conf (default /etc/redis/redis.conf) or sentinel.conf (default /etc/redis/sentinel.conf):
        the template first, then the generated directives. Settings come from environment variables
        (POD_NAME, REDIS_NODES, SENTINEL_NODES, ...; see README), a JSON file, or --NAME=value.
        Exit codes: 0 written, 2 bad configuration or usage, 1 runtime failure.
        """;

    /// <summary>Parses the arguments; returns null and an error for bad usage.</summary>
    public static InitArgs? Parse(IReadOnlyList<string> args, out string? error)
    {
        error = null;
        if (args.Count == 0) { error = "missing mode (expected 'redis' or 'sentinel'; see --help)"; return null; }
        var first = args[0];
        if (first is "--help" or "-h" or "help") return new(InitMode.Help, "", null, null, []);
        if (first is "--version" or "version") return new(InitMode.Version, "", null, null, []);
        InitMode mode;
        switch (first)
        {
            case "redis": mode = InitMode.Redis; break;
            case "sentinel": mode = InitMode.Sentinel; break;
            default: error = $"unknown mode '{Core.Addressing.NodeAddress.Printable(first)}' (expected 'redis' or 'sentinel')"; return null;
        }

        string? output = null, template = null, config = null;
        var settings = new List<string>();
        for (var i = 1; i < args.Count; i++)
        {
            var a = args[i];
            var (name, value) = SplitOption(a);
            switch (name)
            {
                case "--output" or "--template" or "--config":
                    if (value is null)
                    {
                        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)) { error = $"{name} needs a path"; return null; }
                        value = args[++i];
                    }
                    if (value.Length == 0) { error = $"{name} needs a path"; return null; }
                    if (name == "--output") output = value; else if (name == "--template") template = value; else config = value;
                    break;
                case "--help" or "-h":
                    return new(InitMode.Help, "", null, null, []);
                default:
                    if (name.Length > 2 && name.StartsWith("--", StringComparison.Ordinal) && IsSettingName(name[2..]))
                    {
                        if (value is null)
                        {
                            if (i + 1 >= args.Count) { error = $"{name} needs a value"; return null; }
                            value = args[++i];
                        }
                        settings.Add($"--{name[2..]}={value}");
                        break;
                    }
                    error = $"unknown argument '{Core.Addressing.NodeAddress.Printable(a)}' (expected --output, --template, --config or --SETTING_NAME=value)";
                    return null;
            }
        }
        output ??= mode == InitMode.Redis ? "/etc/redis/redis.conf" : "/etc/redis/sentinel.conf";
        return new(mode, output, template, config, settings);
    }

    static (string Name, string? Value) SplitOption(string a)
    {
        var eq = a.IndexOf('=');
        return eq > 0 && a.StartsWith("--", StringComparison.Ordinal) ? (a[..eq], a[(eq + 1)..]) : (a, null);
    }

    static bool IsSettingName(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_');
}
