using System.Text;
using RedisSidecars.Core.Rendering;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

public class ConfigQuotingTests
{
    /// <summary>Quotes <paramref name="value"/> on a directive line and reads it back the way Redis would.</summary>
    static void AssertRoundTrips(string value)
    {
        var line = "requirepass " + ConfigQuoting.Quote(value);
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\r', line);

        var args = ConfigQuoting.SplitArgs(line);

        Assert.NotNull(args);
        Assert.Equal(2, args.Count);
        Assert.Equal("requirepass"u8.ToArray(), args[0]);
        var expected = Encoding.UTF8.GetBytes(value);
        Assert.True(expected.AsSpan().SequenceEqual(args[1]),
            $"round trip of {Convert.ToHexString(expected)} via {line} gave {Convert.ToHexString(args[1])}");
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("with space")]
    [InlineData("  leading and trailing  ")]
    [InlineData("double\"quote")]
    [InlineData("\"")]
    [InlineData("single'quote")]
    [InlineData("'")]
    [InlineData("#not-a-comment")]
    [InlineData("a # b")]
    [InlineData("$HOME and ${VAR}")]
    [InlineData("back\\slash")]
    [InlineData("\\")]
    [InlineData("ends with backslash\\")]
    [InlineData("\\\"")]
    [InlineData("\\x41 literal escape text")]
    [InlineData("\\n literal")]
    [InlineData("tab\there")]
    [InlineData("bell\a backspace\b vt\v ff\f esc\u001b")]
    [InlineData("del\u007f")]
    [InlineData("\u0080\u00ff")]
    [InlineData("pässwörd")]
    [InlineData("日本語パスワード")]
    [InlineData("emoji 🔑 key")]
    [InlineData("")]
    public void Quote_SpecialCharacters_RoundTripsThroughSplitArgs(string value) => AssertRoundTrips(value);

    [Fact]
    public void Quote_PrintableAscii_KeptReadable()
    {
        Assert.Equal("\"p@ss w0rd\"", ConfigQuoting.Quote("p@ss w0rd"));
        Assert.Equal("\"a\\\"b\\\\c\"", ConfigQuoting.Quote("a\"b\\c"));
        Assert.Equal("\"\\x7f\\x09\\xc3\\xa4\"", ConfigQuoting.Quote("\u007f\tä"));
    }

    const string Troublemakers = "\"\\'#$ \t\u007f";

    [Fact]
    public void Quote_RandomStrings_AllRoundTripByteExactly()
    {
        // Property-style: many random strings of printable and non-printable characters (all but \n and \0),
        // including non-ASCII and surrogate pairs. Seeded, so a failure reproduces.
        var random = new Random(20240611);
        for (var n = 0; n < 2000; n++)
        {
            var sb = new StringBuilder();
            var length = random.Next(0, 40);
            for (var i = 0; i < length; i++)
            {
                switch (random.Next(6))
                {
                    case 0: sb.Append((char)random.Next(0x01, 0x20)); break;             // control characters
                    case 1: sb.Append(Troublemakers[random.Next(Troublemakers.Length)]); break;
                    case 2: sb.Append((char)random.Next(0x80, 0xD800)); break;            // BMP, non-ASCII
                    case 3: sb.Append(char.ConvertFromUtf32(random.Next(0x10000, 0x10FFFF))); break; // surrogate pairs
                    default: sb.Append((char)random.Next(0x20, 0x7f)); break;            // printable ASCII
                }
            }
            var value = sb.ToString().Replace("\n", "").Replace("\0", "");
            AssertRoundTrips(value);
        }
    }

    [Theory]
    [InlineData("a b\tc", new[] { "a", "b", "c" })]
    [InlineData("  sentinel   monitor  mymaster  ", new[] { "sentinel", "monitor", "mymaster" })]
    [InlineData("say \"hello world\" 'it s'", new[] { "say", "hello world", "it s" })]
    [InlineData("'single \\' quote'", new[] { "single ' quote" })]
    [InlineData("\"\\x4a\\x4B\" \"\\xZZ\"", new[] { "JK", "xZZ" })]
    [InlineData("\"\\n\\r\\t\"", new[] { "\n\r\t" })]
    [InlineData("", new string[0])]
    public void SplitArgs_RedisSyntax_SameArgumentsAsRedis(string line, string[] expected)
    {
        var args = ConfigQuoting.SplitArgs(line);

        Assert.NotNull(args);
        Assert.Equal(expected, args.Select(a => Encoding.UTF8.GetString(a)).ToArray());
    }

    [Theory]
    [InlineData("requirepass \"unbalanced")]
    [InlineData("requirepass 'unbalanced")]
    [InlineData("requirepass \"ends in backslash\\")]
    [InlineData("requirepass \"escaped quote at end\\\"")]
    public void SplitArgs_UnbalancedQuotes_Null(string line) => Assert.Null(ConfigQuoting.SplitArgs(line));

    [Theory]
    [InlineData("requirepass \"a\"b")]
    [InlineData("requirepass 'a'b")]
    [InlineData("requirepass \"a\"\"b\"")]
    [InlineData("say 'it''s'")]
    public void SplitArgs_ClosingQuoteFollowedByNonSpace_Null(string line) => Assert.Null(ConfigQuoting.SplitArgs(line));

    [Theory]
    [InlineData("# replicaof 1.2.3.4 6379", null)]
    [InlineData("   ", null)]
    [InlineData("  REPLICAOF 1.2.3.4 6379", "replicaof")]
    [InlineData("requirepass \"x\"", "requirepass")]
    [InlineData("requirepass \"unbalanced", null)]
    public void Directive_Line_LowerCasedNameOrNull(string line, string? name) =>
        Assert.Equal(name, ConfigQuoting.Directive(line)?[0]);
}
