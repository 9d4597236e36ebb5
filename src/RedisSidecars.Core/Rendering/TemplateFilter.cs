using System.Text;

namespace RedisSidecars.Core.Rendering;

public enum LineFate { Keep, Drop, Defer }

/// <summary>Copies a template, dropping the directives the generator owns so the generated ones are the only ones,
/// and setting aside lines that must follow the generated ones (Sentinel's per-master directives).</summary>
public static class TemplateFilter
{
    public static (string Text, string Deferred, int Dropped) Split(string template, Func<IReadOnlyList<string>, LineFate> fate)
    {
        var kept = new StringBuilder(template.Length);
        var deferred = new StringBuilder();
        var dropped = 0;
        foreach (var line in template.ReplaceLineEndings("\n").Split('\n'))
        {
            var directive = ConfigQuoting.Directive(line);
            switch (directive is null ? LineFate.Keep : fate(directive))
            {
                case LineFate.Drop: dropped++; break;
                case LineFate.Defer: deferred.Append(line).Append('\n'); break;
                default: kept.Append(line).Append('\n'); break;
            }
        }
        var text = kept.ToString().TrimEnd('\n');
        return (text.Length == 0 ? "" : text + "\n", deferred.ToString(), dropped);
    }
}
