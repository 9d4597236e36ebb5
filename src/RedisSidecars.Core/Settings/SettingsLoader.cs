using Microsoft.Extensions.Configuration;

namespace RedisSidecars.Core.Settings;

/// <summary>Reads settings from an optional JSON file, then environment variables, then <c>--NAME=value</c> arguments (later wins).</summary>
public static class SettingsLoader
{
    /// <summary>Builds the configuration. <paramref name="jsonFile"/> is optional; when given it must exist.</summary>
    public static IConfiguration Build(IEnumerable<string> settingArgs, string? jsonFile, IDictionary<string, string?>? environment = null)
    {
        var builder = new ConfigurationBuilder();
        if (jsonFile is not null) builder.AddJsonFile(Path.GetFullPath(jsonFile), optional: false, reloadOnChange: false);
        if (environment is null) builder.AddEnvironmentVariables();
        else builder.AddInMemoryCollection(environment);
        builder.AddCommandLine(settingArgs.ToArray());
        return builder.Build();
    }

    public static RawOptions BindRaw(IConfiguration configuration)
    {
        var raw = new RawOptions();
        configuration.Bind(raw);
        return raw;
    }
}

/// <summary>The real file system behind settings validation.</summary>
public sealed class PhysicalSettingsFiles : ISettingsFiles
{
    public static readonly PhysicalSettingsFiles Instance = new();
    public string ReadAllText(string path) => File.ReadAllText(path);
    public bool Exists(string path) => File.Exists(path);
}
