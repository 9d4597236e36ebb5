using System.Text.RegularExpressions;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// A Kubernetes label selector: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k</c>, <c>!k</c>, <c>k in (a,b)</c>,
/// <c>k notin (a,b)</c>, terms joined by commas (AND). Semantics as in apimachinery: <c>!=</c> and
/// <c>notin</c> also match pods without the key.
/// </summary>
public sealed partial class LabelSelector
{
    private enum Op
    {
        Equals,
        NotEquals,
        In,
        NotIn,
        Exists,
        DoesNotExist,
    }

    private sealed record Requirement(string Key, Op Op, string[] Values);

    private readonly IReadOnlyList<Requirement> _requirements;

    private LabelSelector(IReadOnlyList<Requirement> requirements) => _requirements = requirements;

    public static LabelSelector Everything { get; } = new([]);

    /// <summary>The keys the selector looks at.</summary>
    public IEnumerable<string> Keys => _requirements.Select(r => r.Key);

    /// <summary>Parses a selector; null or blank selects everything.</summary>
    /// <param name="validateKeys">False for field selectors (keys like <c>metadata.name</c>, equality only).</param>
    /// <exception cref="FormatException">Worded like the API server's "unable to parse requirement".</exception>
    public static LabelSelector Parse(string? text, bool validateKeys = true)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        return new LabelSelector([.. SplitTopLevel(text).Select(term => ParseTerm(term.Trim(), validateKeys))]);
    }

    /// <summary>The value <paramref name="key"/> must equal (a <c>key=value</c> term), or null when there is no such term.</summary>
    public string? ExactMatch(string key) => _requirements.FirstOrDefault(r => r.Key == key && r.Op == Op.Equals)?.Values[0];

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _requirements.All(r =>
    {
        var has = labels.TryGetValue(r.Key, out var value);
        return r.Op switch
        {
            Op.Exists => has,
            Op.DoesNotExist => !has,
            Op.Equals or Op.In => has && r.Values.Contains(value),
            Op.NotEquals or Op.NotIn => !has || !r.Values.Contains(value),
            _ => false,
        };
    });

    private static Requirement ParseTerm(string term, bool validateKeys)
    {
        if (term.Length == 0)
        {
            throw Error(term, "found '', expected: identifier");
        }

        Requirement requirement;
        var set = SetTerm().Match(term);
        if (set.Success && validateKeys)
        {
            var values = set.Groups["values"].Value.Split(',').Select(v => v.Trim()).ToArray();
            if (values.All(v => v.Length == 0))
            {
                throw Error(term, "for 'in', 'notin' operators, values set can't be empty");
            }

            requirement = new(set.Groups["key"].Value, set.Groups["op"].Value == "in" ? Op.In : Op.NotIn, values);
        }
        else if (term.StartsWith('!') && !term.Contains('=', StringComparison.Ordinal))
        {
            requirement = new(term[1..].Trim(), Op.DoesNotExist, []);
        }
        else
        {
            var (op, at, width) = term.IndexOf("!=", StringComparison.Ordinal) is var ne and >= 0 ? (Op.NotEquals, ne, 2)
                : term.IndexOf("==", StringComparison.Ordinal) is var eq2 and >= 0 ? (Op.Equals, eq2, 2)
                : term.IndexOf('=', StringComparison.Ordinal) is var eq and >= 0 ? (Op.Equals, eq, 1)
                : (Op.Exists, term.Length, 0);
            var value = op == Op.Exists ? "" : term[(at + width)..].Trim();
            requirement = new(term[..at].Trim(), op, op == Op.Exists ? [] : [value]);
        }

        if (validateKeys)
        {
            if (!LabelRules.IsValidKey(requirement.Key))
            {
                throw Error(term, $"invalid label key \"{requirement.Key}\"");
            }

            var bad = requirement.Values.FirstOrDefault(v => !LabelRules.IsValidValue(v));
            if (bad is not null)
            {
                throw Error(term, $"invalid label value: \"{bad}\"");
            }
        }
        else if (requirement.Op is not (Op.Equals or Op.NotEquals) || requirement.Key.Length == 0)
        {
            throw Error(term, "field selectors support only =, == and !=");
        }

        return requirement;
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }

    private static FormatException Error(string term, string why) => new($"unable to parse requirement: \"{term}\": {why}");

    [GeneratedRegex(@"^(?<key>\S+)\s+(?<op>in|notin)\s*\((?<values>[^()]*)\)$")]
    private static partial Regex SetTerm();
}

/// <summary>Label key and value syntax as validated by the API server.</summary>
public static partial class LabelRules
{
    public const string ValueError =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
        + "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        + "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    public static bool IsValidValue(string value) => value.Length == 0 || (value.Length <= 63 && Name().IsMatch(value));

    public static bool IsValidKey(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var name = slash < 0 ? key : key[(slash + 1)..];
        var prefix = slash < 0 ? null : key[..slash];
        return name.Length is > 0 and <= 63 && Name().IsMatch(name)
            && (prefix is null || (prefix.Length <= 253 && Subdomain().IsMatch(prefix)));
    }

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex Name();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Subdomain();
}
