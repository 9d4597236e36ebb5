using System.Text;

namespace RedisSidecars.Core.Rendering;

/// <summary>
/// Quoting for Redis/Sentinel config files, matching Redis's own parser (<c>sdssplitargs</c>):
/// inside double quotes, <c>\"</c>, <c>\\</c>, <c>\n</c>, <c>\r</c>, <c>\t</c>, <c>\b</c>, <c>\a</c> and <c>\xHH</c> are escapes.
/// </summary>
public static class ConfigQuoting
{
    /// <summary>Quotes a value so that Redis reads back exactly its UTF-8 bytes.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            switch (b)
            {
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\\': sb.Append("\\\\"); break;
                case >= 0x20 and < 0x7f: sb.Append((char)b); break;
                default: sb.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Splits a config line into arguments the way Redis does. Null when the line is malformed (unbalanced quotes).</summary>
    public static IReadOnlyList<byte[]>? SplitArgs(string line)
    {
        var p = Encoding.UTF8.GetBytes(line);
        var i = 0;
        var result = new List<byte[]>();
        while (true)
        {
            while (i < p.Length && IsSpace(p[i])) i++;
            if (i >= p.Length) return result;
            bool inq = false, insq = false, done = false;
            var current = new List<byte>();
            while (!done)
            {
                var c = i < p.Length ? p[i] : (byte)0;
                var next = i + 1 < p.Length ? p[i + 1] : (byte)0;
                if (inq)
                {
                    if (c == '\\' && next == 'x' && i + 3 < p.Length && IsHex(p[i + 2]) && IsHex(p[i + 3]))
                    {
                        current.Add((byte)(HexValue(p[i + 2]) * 16 + HexValue(p[i + 3])));
                        i += 3;
                    }
                    else if (c == '\\' && next != 0)
                    {
                        i++;
                        current.Add(next switch { (byte)'n' => (byte)'\n', (byte)'r' => (byte)'\r', (byte)'t' => (byte)'\t', (byte)'b' => (byte)'\b', (byte)'a' => (byte)'\a', _ => next });
                    }
                    else if (c == '"')
                    {
                        if (next != 0 && !IsSpace(next)) return null;
                        done = true;
                    }
                    else if (c == 0) return null;
                    else current.Add(c);
                }
                else if (insq)
                {
                    if (c == '\\' && next == '\'') { i++; current.Add((byte)'\''); }
                    else if (c == '\'')
                    {
                        if (next != 0 && !IsSpace(next)) return null;
                        done = true;
                    }
                    else if (c == 0) return null;
                    else current.Add(c);
                }
                else
                {
                    switch (c)
                    {
                        case (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or 0: done = true; break;
                        case (byte)'"': inq = true; break;
                        case (byte)'\'': insq = true; break;
                        default: current.Add(c); break;
                    }
                }
                if (i < p.Length) i++;
            }
            result.Add(current.ToArray());
        }
    }

    /// <summary>The lower-cased first argument (directive name) of a config line, or null for blank/comment/malformed lines.</summary>
    public static IReadOnlyList<string>? Directive(string line)
    {
        var trimmed = line.TrimStart();
        if (trimmed.Length == 0 || trimmed[0] == '#') return null;
        var args = SplitArgs(trimmed);
        if (args is null || args.Count == 0) return null;
        return args.Select(a => Encoding.UTF8.GetString(a).ToLowerInvariant()).ToArray();
    }

    static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0b or 0x0c;
    static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
    static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
