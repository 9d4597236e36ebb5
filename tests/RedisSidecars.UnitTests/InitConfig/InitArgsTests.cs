using RedisSidecars.InitConfig.Cli;
using Xunit;

namespace RedisSidecars.UnitTests.InitConfig;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class InitArgsTests
{
    static InitArgs Ok(params string[] args)
    {
        var parsed = InitArgs.Parse(args, out var error);
        Assert.Null(error);
        Assert.NotNull(parsed);
        return parsed;
    }

    static string Bad(params string[] args)
    {
        var parsed = InitArgs.Parse(args, out var error);
        Assert.Null(parsed);
        Assert.False(string.IsNullOrWhiteSpace(error));
        return error;
    }

    [Theory]
    [InlineData("redis", InitMode.Redis, "/etc/redis/redis.conf")]
    [InlineData("sentinel", InitMode.Sentinel, "/etc/redis/sentinel.conf")]
    public void Parse_ModeOnly_DefaultOutputForMode(string mode, InitMode expected, string output)
    {
        var a = Ok(mode);

        Assert.Equal(expected, a.Mode);
        Assert.Equal(output, a.Output);
        Assert.Null(a.Template);
        Assert.Null(a.ConfigFile);
        Assert.Empty(a.SettingArgs);
    }

    [Fact]
    public void Parse_OptionsWithEquals_Taken()
    {
        var a = Ok("redis", "--output=/conf/redis.conf", "--template=/tpl/base.conf", "--config=/cfg/s.json");

        Assert.Equal("/conf/redis.conf", a.Output);
        Assert.Equal("/tpl/base.conf", a.Template);
        Assert.Equal("/cfg/s.json", a.ConfigFile);
    }

    [Fact]
    public void Parse_OptionsWithSeparateValue_Taken()
    {
        var a = Ok("sentinel", "--output", "/conf/sentinel.conf", "--template", "/tpl/base.conf");

        Assert.Equal(InitMode.Sentinel, a.Mode);
        Assert.Equal("/conf/sentinel.conf", a.Output);
        Assert.Equal("/tpl/base.conf", a.Template);
    }

    [Fact]
    public void Parse_SettingArguments_PassedThroughAsNameEqualsValue()
    {
        var a = Ok("redis", "--POD_NAME=redis-0", "--REDIS_NODES", "a:1,b:2", "--MASTER_SET_NAME=x=y");

        Assert.Equal(["--POD_NAME=redis-0", "--REDIS_NODES=a:1,b:2", "--MASTER_SET_NAME=x=y"], a.SettingArgs);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public void Parse_Help_HelpMode(string arg) => Assert.Equal(InitMode.Help, Ok(arg).Mode);

    [Fact]
    public void Parse_HelpAfterMode_HelpMode() => Assert.Equal(InitMode.Help, Ok("redis", "--help").Mode);

    [Theory]
    [InlineData("--version")]
    [InlineData("version")]
    public void Parse_Version_VersionMode(string arg) => Assert.Equal(InitMode.Version, Ok(arg).Mode);

    [Fact]
    public void Parse_NoArguments_MissingModeError() => Assert.Contains("missing mode", Bad());

    [Fact]
    public void Parse_UnknownMode_ErrorNamesIt() => Assert.Contains("unknown mode 'cluster'", Bad("cluster"));

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--pod_name=redis-0")]
    [InlineData("stray")]
    [InlineData("-o")]
    public void Parse_UnknownArgument_ErrorNamesIt(string arg)
    {
        var error = Bad("redis", arg);

        Assert.Contains($"unknown argument '{arg}'", error);
        Assert.Contains("expected", error);
    }

    [Theory]
    [InlineData("--output")]
    [InlineData("--template")]
    [InlineData("--config")]
    public void Parse_OptionWithoutPath_NeedsAPathError(string option)
    {
        Assert.Equal($"{option} needs a path", Bad("redis", option));
        Assert.Equal($"{option} needs a path", Bad("redis", $"{option}="));
        Assert.Equal($"{option} needs a path", Bad("redis", option, "--POD_NAME=redis-0"));
    }

    [Fact]
    public void Parse_SettingWithoutValue_NeedsAValueError() => Assert.Equal("--POD_NAME needs a value", Bad("redis", "--POD_NAME"));

    [Fact]
    public void Parse_UnknownArgumentWithControlCharacters_ErrorIsOneLine() =>
        Assert.DoesNotContain('\n', Bad("redis", "--x\ny"));
}
