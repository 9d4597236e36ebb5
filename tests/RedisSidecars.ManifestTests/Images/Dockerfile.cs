using System.Text.Json;

namespace RedisSidecars.ManifestTests.Images;

/// <summary>One instruction of a Dockerfile (continuations joined, comments dropped).</summary>
public sealed record Instruction(string Keyword, string Arguments, int Stage);

/// <summary>A minimal Dockerfile reader: enough to check stages, RUN, COPY, USER, ENTRYPOINT and LABEL.</summary>
public sealed class Dockerfile
{
    public Dockerfile(string text)
    {
        var joined = new List<string>();
        var current = "";
        foreach (var raw in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.TrimEnd();
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0)) continue;
            if (current.Length > 0 && line.TrimStart().StartsWith('#')) continue; // comment inside a continuation
            if (line.EndsWith('\\')) { current += line[..^1] + " "; continue; }
            joined.Add(current + line);
            current = "";
        }
        var stage = -1;
        foreach (var line in joined)
        {
            var trimmed = line.Trim();
            var space = trimmed.IndexOf(' ', StringComparison.Ordinal);
            var keyword = (space < 0 ? trimmed : trimmed[..space]).ToUpperInvariant();
            var args = space < 0 ? "" : trimmed[(space + 1)..].Trim();
            if (keyword == "FROM") stage++;
            Instructions.Add(new Instruction(keyword, args, stage));
        }
    }

    public static Dockerfile Load(string name) => new(Infrastructure.Repo.Read(name));

    public List<Instruction> Instructions { get; } = [];
    public int FinalStage => Instructions.Max(i => i.Stage);

    /// <summary>Stages as (image, alias); an image named by an ARG declared before the first FROM is that ARG's default.</summary>
    public IReadOnlyList<(string Image, string? Alias)> Stages =>
        Instructions.Where(i => i.Keyword == "FROM").Select(i =>
        {
            var parts = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
            return (WithGlobalArgDefaults(parts[0]), parts.Length >= 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null);
        }).ToArray();

    /// <summary>The ARGs declared before the first FROM (the only ones FROM can use), with their defaults.</summary>
    public IReadOnlyDictionary<string, string?> GlobalArgs =>
        In(-1, "ARG").Select(i => i.Arguments.Split('=', 2)).ToDictionary(p => p[0].Trim(), p => p.Length == 2 ? p[1].Trim().Trim('"') : null, StringComparer.Ordinal);

    string WithGlobalArgDefaults(string image) =>
        System.Text.RegularExpressions.Regex.Replace(image, @"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
            m => GlobalArgs.TryGetValue(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value, out var value) && value is not null ? value : m.Value);

    public IEnumerable<Instruction> In(int stage, string keyword) => Instructions.Where(i => i.Stage == stage && i.Keyword == keyword);

    /// <summary>The exec form of ENTRYPOINT/CMD as a list, or null when it is the shell form.</summary>
    public static string[]? ExecForm(string arguments)
    {
        if (!arguments.StartsWith('[')) return null;
        return JsonSerializer.Deserialize<string[]>(arguments);
    }

    /// <summary>LABEL key="value" pairs of a stage.</summary>
    public IReadOnlyDictionary<string, string> Labels(int stage)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var i in In(stage, "LABEL"))
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(i.Arguments, "([A-Za-z0-9._-]+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+)"))
                labels[m.Groups[1].Value] = m.Groups[2].Value.Trim('"');
        return labels;
    }
}
