using System.Globalization;
using System.Text;
using RedisSidecars.Testing;

namespace RedisSidecars.PodTests.Harness;

/// <summary>A docker command that failed: its arguments, exit code and stderr.</summary>
public sealed class DockerException(string message) : Exception(message);

/// <summary>The docker CLI, through the tests' process starter (<see cref="Tools.RunAsync"/>): every call bounded.</summary>
public static class Docker
{
    static readonly Dictionary<string, string> Env = new()
    {
        ["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? "/root",
        ["DOCKER_HOST"] = Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock",
    };

    /// <summary>Runs docker; returns exit code, stdout and stderr whatever the code.</summary>
    public static Task<(int Code, string Stdout, string Stderr)> TryAsync(IEnumerable<string> args, TimeSpan? timeout = null) =>
        Tools.RunAsync("docker", args, Env, timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Runs docker; returns stdout trimmed, throws <see cref="DockerException"/> on a non-zero exit.</summary>
    public static async Task<string> RunAsync(IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        var (code, stdout, stderr) = await TryAsync(args, timeout);
        if (code != 0) throw new DockerException($"docker {Describe(args)} failed (exit {code}): {stderr.Trim()}");
        return stdout.Trim();
    }

    /// <summary>Status, exit code and OOM flag of a container; null when it does not exist.</summary>
    public static async Task<ContainerState?> StateAsync(string container)
    {
        var (code, stdout, _) = await TryAsync(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", container]);
        if (code != 0) return null;
        var parts = stdout.Trim().Split(' ');
        return new ContainerState(parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture), parts[2] == "true");
    }

    /// <summary>stdout and stderr of a container merged in time order (docker's timestamps), for failure messages.</summary>
    public static async Task<string> LogsAsync(string container, int tail = 200)
    {
        var (code, stdout, stderr) = await TryAsync(["logs", "--timestamps", "--tail", tail.ToString(CultureInfo.InvariantCulture), container]);
        if (code != 0) return $"(no logs: {stderr.Trim()})";
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Concat(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            .OrderBy(l => l.Split(' ')[0], StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var line in lines)
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            sb.AppendLine(space > 0 && line.Length > 11 ? $"{line[11..Math.Min(23, space)]} {line[(space + 1)..]}" : line);
        }
        return sb.ToString();
    }

    /// <summary>The command for messages, environment values left out.</summary>
    static string Describe(IReadOnlyList<string> args) =>
        string.Join(' ', args.Select((a, i) => i > 0 && args[i - 1] == "--env" ? a.Split('=')[0] + "=…" : a).Take(16));
}

/// <summary>docker inspect's State: "running", "exited", …</summary>
public sealed record ContainerState(string Status, int ExitCode, bool OomKilled)
{
    public bool Running => Status == "running";
}
