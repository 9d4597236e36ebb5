namespace RedisSidecars.E2E.Tests;

public class E2EOptionsTests
{
    static E2EOptions? Parse(string[] args, Dictionary<string, string>? env, out IReadOnlyList<string> errors) =>
        E2EOptions.Parse(args, n => env?.GetValueOrDefault(n), out errors, out _);

    [Fact]
    public void Parse_Nothing_DefaultsToDevAndTheOverlaysImages()
    {
        var o = Parse([], null, out var errors);
        Assert.Empty(errors);
        Assert.Equal(("dev", null, null, false, TimeSpan.FromMinutes(10)), (o!.Overlay, o.Namespace, o.InitImage, o.Keep, o.RolloutTimeout));
    }

    [Fact]
    public void Parse_FlagsWinOverEnvironment()
    {
        var env = new Dictionary<string, string> { ["E2E_OVERLAY"] = "staging", ["REDIS_IMAGE"] = "redis:7", ["REDIS_INIT_IMAGE"] = "reg:5000/a/redis-init:1" };
        var o = Parse(["--overlay", "valkey", "--redis-image=valkey/valkey:8.0.2-alpine", "--keep", "--namespace", "e2e-x"], env, out var errors);

        Assert.Empty(errors);
        Assert.Equal("valkey", o!.Overlay);
        Assert.Equal(("valkey/valkey", "8.0.2-alpine"), (o.RedisImage!.Name, o.RedisImage.Tag));
        Assert.Equal(("reg:5000/a/redis-init", "1"), (o.InitImage!.Name, o.InitImage.Tag));
        Assert.True(o.Keep);
        Assert.Equal("e2e-x", o.Namespace);
    }

    [Fact]
    public void Parse_EveryProblem_IsOneLine()
    {
        var o = Parse(["--namespace", "Bad_Name", "--sidecar-image", "x@sha256:12", "--timeout-minutes", "0", "--bogus", "--overlay"], null, out var errors);

        Assert.Null(o);
        Assert.Equal(5, errors.Count);
        Assert.Contains(errors, e => e.Contains("--namespace 'Bad_Name'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--sidecar-image", StringComparison.Ordinal) && e.Contains("64 hex", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--timeout-minutes '0'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("unknown argument '--bogus'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("--overlay needs a value", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_Help_IsReported()
    {
        E2EOptions.Parse(["--help"], _ => null, out _, out var help);
        Assert.True(help);
    }

    [Fact]
    public void RandomNamespace_IsAValidFreshName()
    {
        var a = E2EOptions.RandomNamespace();
        Assert.Matches("^e2e-[0-9a-f]{6}$", a);
        Assert.Empty(Parse(["--namespace", a], null, out var errors) is null ? ["parse failed"] : errors);
    }
}
