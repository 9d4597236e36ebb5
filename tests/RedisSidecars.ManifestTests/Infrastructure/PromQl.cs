namespace RedisSidecars.ManifestTests.Infrastructure;

/// <summary>A vector selector in a PromQL expression: the metric name and the text between its braces ("" when none).</summary>
public sealed record Selector(string Metric, string Matchers);

/// <summary>
/// Just enough of a PromQL lexer to list the vector selectors of an expression (alert rules, Grafana panels):
/// strings, label matchers, ranges, grouping label lists, durations, numbers and Grafana variables are skipped;
/// an identifier called like a function (or an aggregation followed by by/without) is not a metric.
/// </summary>
public static class PromQl
{
    static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN",
    };

    static readonly HashSet<string> LabelLists = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right",
    };

    public static IReadOnlyList<Selector> Selectors(string expr)
    {
        var found = new List<Selector>();
        var i = 0;
        while (i < expr.Length)
        {
            var c = expr[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c is '"' or '\'' or '`') { i = SkipString(expr, i); continue; }
            if (c == '[') { i = SkipTo(expr, i, ']'); continue; }
            if (c == '{')
            {
                // A selector without a metric name ({__name__=~"..."}) names no metric this check could verify.
                var end = SkipTo(expr, i, '}');
                found.Add(new Selector("", expr[(i + 1)..(end - 1)]));
                i = end;
                continue;
            }
            if (c == '$') { i = SkipVariable(expr, i); continue; }
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < expr.Length && char.IsAsciiDigit(expr[i + 1])))
            {
                while (i < expr.Length && (char.IsAsciiLetterOrDigit(expr[i]) || expr[i] is '.' or '_')) i++; // 15m, 1e3, 0.99, 0x1f
                continue;
            }
            if (IsIdentStart(c))
            {
                var start = i;
                while (i < expr.Length && IsIdentPart(expr[i])) i++;
                var word = expr[start..i];
                var next = SkipSpace(expr, i);
                if (LabelLists.Contains(word))
                {
                    if (next < expr.Length && expr[next] == '(') i = SkipTo(expr, next, ')');
                    continue;
                }
                if (Keywords.Contains(word)) continue;
                if (next < expr.Length && expr[next] == '(') continue; // a function or an aggregation
                if (FollowedByWord(expr, next, "by") || FollowedByWord(expr, next, "without")) continue; // sum by (x) (...)
                if (next < expr.Length && expr[next] == '{')
                {
                    var end = SkipTo(expr, next, '}');
                    found.Add(new Selector(word, expr[(next + 1)..(end - 1)]));
                    i = end;
                }
                else found.Add(new Selector(word, ""));
                continue;
            }
            i++; // operators, parentheses, commas
        }
        return found;
    }

    /// <summary>The metric names an expression reads.</summary>
    public static IReadOnlySet<string> MetricNames(string expr) =>
        Selectors(expr).Select(s => s.Metric).Where(m => m.Length > 0).ToHashSet(StringComparer.Ordinal);

    static bool IsIdentStart(char c) => char.IsAsciiLetter(c) || c is '_' or ':';
    static bool IsIdentPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or ':';

    static int SkipSpace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        return i;
    }

    static bool FollowedByWord(string s, int i, string word) =>
        string.CompareOrdinal(s, i, word, 0, word.Length) == 0 && (i + word.Length == s.Length || !IsIdentPart(s[i + word.Length]));

    /// <summary>Index after the closing quote.</summary>
    static int SkipString(string s, int i)
    {
        var quote = s[i++];
        while (i < s.Length && s[i] != quote) i += s[i] == '\\' && quote != '`' ? 2 : 1;
        if (i >= s.Length) throw new FormatException($"unterminated string in: {s}");
        return i + 1;
    }

    /// <summary>Index after the <paramref name="close"/> that ends the bracket at <paramref name="i"/> (strings inside skipped).</summary>
    static int SkipTo(string s, int i, char close)
    {
        var open = s[i];
        var depth = 0;
        while (i < s.Length)
        {
            if (s[i] is '"' or '\'' or '`') { i = SkipString(s, i); continue; }
            if (s[i] == open) depth++;
            else if (s[i] == close && --depth == 0) return i + 1;
            i++;
        }
        throw new FormatException($"unbalanced '{open}' in: {s}");
    }

    /// <summary>Grafana variables: $name, ${name}, ${name:format}, [[name]] is not used here.</summary>
    static int SkipVariable(string s, int i)
    {
        i++;
        if (i < s.Length && s[i] == '{') return SkipTo(s, i, '}');
        while (i < s.Length && IsIdentPart(s[i])) i++;
        return i;
    }
}
