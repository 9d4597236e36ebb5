using Microsoft.Extensions.Configuration;
using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Settings;

/// <summary>
/// Reads settings from an optional JSON file, then environment variables, then <c>--NAME=value</c> arguments (later wins).
/// Every source keeps "set to empty" apart from "unset": a variable, JSON key or argument set to "" binds as "",
/// an absent one as null, and <see cref="SettingsValidator.Present"/> builds on that.
/// </summary>
public static class SettingsLoader
{
    const string ConfigExpected = "a readable JSON object of settings, e.g. {\"POD_NAME\": \"redis-0\"}";

    /// <summary>Builds the configuration. <paramref name="jsonFile"/> is optional; when given it must be a readable JSON object.</summary>
    /// <returns>Null and a one-line error naming <c>--config</c> when the JSON file cannot be used.</returns>
    public static IConfiguration? TryBuild(IEnumerable<string> settingArgs, string? jsonFile, IDictionary<string, string?>? environment, out string? error)
    {
        error = null;
        var builder = new ConfigurationBuilder();
        if (jsonFile is not null)
        {
            if (string.IsNullOrWhiteSpace(jsonFile))
            {
                error = $"--config needs a path (expected {ConfigExpected})";
                return null;
            }
            if (PathProblem.TryRead(PhysicalSettingsFiles.Instance, jsonFile, out var problem) is not { } json)
            {
                error = $"--config '{NodeAddress.Printable(jsonFile)}' {problem} (expected {ConfigExpected})";
                return null;
            }
            builder.AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        }
        if (environment is null) builder.AddEnvironmentVariables();
        else builder.AddInMemoryCollection(environment);
        builder.AddCommandLine(settingArgs.ToArray());
        try { return builder.Build(); }
        catch (Exception e) when (e is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            error = $"--config '{NodeAddress.Printable(jsonFile)}' cannot be parsed as a JSON object of settings (expected {ConfigExpected})";
            return null;
        }
    }

    public static RawOptions BindRaw(IConfiguration configuration)
    {
        var raw = new RawOptions();
        configuration.Bind(raw);
        return raw;
    }

    public static SidecarRawOptions BindSidecar(IConfiguration configuration)
    {
        var side = new SidecarRawOptions();
        configuration.Bind(side);
        return side;
    }
}
