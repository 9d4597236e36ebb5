using RedisSidecars.E2E.Analysis;
using RedisSidecars.E2E.Cluster;
using RedisSidecars.E2E.Deploy;
using RedisSidecars.Testing;

namespace RedisSidecars.E2E.Tests.Cluster;

/// <summary>
/// The sh scripts the suite runs in pods, run here with sh against real redis-server / redis-sentinel on loopback
/// addresses (a master, a replica, three Sentinels): the same text, the same redis-cli, the suite's own parsers.
/// Only the host differs (the pods use 127.0.0.1 inside a container, or the Service name).
/// </summary>
public sealed class ScriptsWithRealServersTests : IAsyncLifetime
{
    const string AppPassword = "app pass'word$1"; // quotes and $ must survive the scripts
    readonly RedisSet set = new(redisCount: 2, sentinelCount: 3, password: "admin-pw", sentinelPassword: "sentinel-pw");
    readonly string dir = Directory.CreateTempSubdirectory("redis-sidecars-e2e-scripts-").FullName;
    ServerContainer redis = null!, sentinel = null!;

    public async Task InitializeAsync()
    {
        await set.StartAllAsync();
        foreach (var n in set.Redis) await set.TryExecAsync(n, "ACL", "SETUSER", "app", "on", ">" + AppPassword, "~*", "&*", "+@all");
        redis = new ServerContainer("redis", "", "redis-cli", 6379, Secret("redis-password", set.Password!));
        sentinel = new ServerContainer("sentinel", "", "redis-cli", 26379, Secret("sentinel-password", set.SentinelPassword!));
    }

    public async Task DisposeAsync()
    {
        await set.DisposeAsync();
        Directory.Delete(dir, recursive: true);
    }

    string Secret(string name, string value)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, value);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>A client pod's environment: the application user from its Secret.</summary>
    static Dictionary<string, string> AppEnv() =>
        new[] { Scripts.UserVariable }.Select(v => (v, "app")).Concat(Scripts.PasswordVariables.Select(v => (v, AppPassword))).ToDictionary(x => x.Item1, x => x.Item2);

    static Task<(int Code, string Stdout, string Stderr)> ShAsync(string script, Dictionary<string, string>? env = null, int seconds = 60) =>
        Tools.RunAsync("/bin/sh", ["-c", script], env ?? [], TimeSpan.FromSeconds(seconds));

    string Writer(string prefix, int maxSeconds) =>
        Scripts.Writer("redis-cli", set.Redis[0].Ip, 6379, prefix, waitMs: 1000, maxSeconds: maxSeconds, stopFile: Path.Combine(dir, "stop-" + prefix));

    [Fact]
    public async Task Writer_WithAReplica_EveryAcknowledgedWriteIsReadBack()
    {
        var (code, log, err) = await ShAsync(Writer("w1", maxSeconds: 2), AppEnv());
        Assert.True(code == 0, err);
        var run = WriterLog.Parse(log);

        Assert.Equal("w1", run.Prefix);
        Assert.True(run.AckedAt.Count >= 2, log);
        Assert.Empty(run.Errors);
        Assert.True(run.Ended);
        Assert.Equal(0, run.Unreadable);
        Assert.Equal(Enumerable.Range(1, run.AckedAt.Count).Select(i => (long)i), run.AckedAt.Keys.Order()); // 1, 2, … in order
        Assert.True(run.AckedAt.Values.Zip(run.AckedAt.Values.Skip(1)).All(p => p.First <= p.Second), "the clock runs forward");

        var (readCode, read, readErr) = await ShAsync(Scripts.ReadBack(redis, "w1", set.Redis[0].Ip));
        Assert.True(readCode == 0, readErr);
        var (role, keys) = Replies.RoleAndKeys(read);
        Assert.Equal("master", role);
        Assert.Empty(Accounting.Lost(run, keys));
        Assert.Equal(run.AckedAt.Count, keys.Count);

        var (_, onReplica, _) = await ShAsync(Scripts.ReadBack(redis, "w1", set.Redis[1].Ip));
        Assert.Equal("slave", Replies.RoleAndKeys(onReplica).Role); // ReadBack says where it read
    }

    [Fact]
    public async Task Writer_StopFile_EndsIt()
    {
        var stop = Path.Combine(dir, "stop-w2");
        var writer = ShAsync(Writer("w2", maxSeconds: 600), AppEnv(), seconds: 120);
        await set.WaitUntilAsync(async () => (await ShAsync(Scripts.ReadBack(redis, "w2", set.Redis[0].Ip))).Stdout.Contains("w2:3", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the writer wrote three keys");
        await File.WriteAllTextAsync(stop, "");
        var (code, log, _) = await writer;

        Assert.Equal(0, code);
        Assert.True(WriterLog.Parse(log).Ended, log);
    }

    [Fact]
    public async Task Writer_NoReplica_NothingIsAcknowledged_EveryAttemptSaysWhy()
    {
        set.Kill(set.Redis[1]);
        var (_, log, _) = await ShAsync(Writer("w3", maxSeconds: 3), AppEnv());
        var run = WriterLog.Parse(log);

        Assert.Empty(run.AckedAt);
        Assert.NotEmpty(run.Errors);
        Assert.All(run.Errors, e => Assert.Equal("OK 0", e.Reply)); // SET succeeded, WAIT 1 counted no replica
        Assert.Null(Accounting.LongestGap(run));
    }

    [Fact]
    public async Task Writer_WrongPassword_NothingIsAcknowledged()
    {
        var env = AppEnv();
        foreach (var v in Scripts.PasswordVariables) env[v] = "wrong";
        var (_, log, _) = await ShAsync(Writer("w4", maxSeconds: 1), env);
        var run = WriterLog.Parse(log);

        Assert.Empty(run.AckedAt);
        Assert.NotEmpty(run.Errors);
        Assert.DoesNotContain("wrong", log, StringComparison.Ordinal); // the password never reaches the log
    }

    [Fact]
    public async Task RoleThrough_NamesTheServerThatAnswered()
    {
        var (code, stdout, err) = await ShAsync(Scripts.RoleThrough("redis-cli", set.Redis[0].Ip, 6379), AppEnv());
        Assert.True(code == 0, err);
        var (role, ip) = Replies.RoleAndServerAddress(stdout);

        Assert.Equal(("master", set.Redis[0].Ip), (role, ip));
        Assert.Equal("redis-0", Replies.PodOf(ip!, set.Redis.Select(n => new PodAddress(n.Name, n.Ip))));
    }

    [Fact]
    public async Task SentinelMaster_AndSwitchMasterFeed_FollowAFailover()
    {
        var (code, stdout, err) = await ShAsync(Scripts.SentinelMaster(sentinel, RedisSet.MasterSet, set.Sentinels[0].Ip));
        Assert.True(code == 0, err);
        Assert.Equal((set.Redis[0].Ip, 6379), Replies.MasterAddress(stdout));

        var lines = new List<string>();
        var feeds = set.Sentinels.Select(s => Processes.StartStreaming("/bin/sh", ["-c", Scripts.SwitchMasterFeed(sentinel, s.Ip)], l => { lock (lines) lines.Add(l); })).ToArray();
        try
        {
            await set.WaitUntilAsync(() => { lock (lines) return Task.FromResult(lines.Count(l => l.Contains("subscribe", StringComparison.Ordinal)) == 3); },
                TimeSpan.FromSeconds(10), "three feeds subscribed");
            await set.TryExecAsync(set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet);
            await set.WaitUntilAsync(() => { lock (lines) return Task.FromResult(lines.Count(l => Replies.SwitchMasterLine(l) is not null) == 3); },
                TimeSpan.FromSeconds(30), "every Sentinel published +switch-master");
        }
        finally
        {
            foreach (var f in feeds) Processes.Stop(f);
        }

        IReadOnlyList<(TimeSpan, SwitchMaster)> switches;
        lock (lines) switches = lines.Select((l, i) => (TimeSpan.FromMilliseconds(i), Replies.SwitchMasterLine(l))).Where(x => x.Item2 is not null).Select(x => (x.Item1, x.Item2!)).ToArray();
        var promotion = Assert.Single(Handovers.Promotions(switches));
        Assert.Equal((set.Redis[0].Ip, set.Redis[1].Ip, 3), (promotion.OldHost, promotion.NewHost, promotion.Messages));
        Assert.All(switches, s => Assert.Equal(RedisSet.MasterSet, s.Item2.MasterSet));
    }

    [Fact]
    public async Task SentinelMaster_WrongPasswordFile_FailsWithoutAnAddress()
    {
        var wrong = sentinel with { PasswordFile = Secret("wrong", "nope") };
        var (_, stdout, _) = await ShAsync(Scripts.SentinelMaster(wrong, RedisSet.MasterSet, set.Sentinels[0].Ip));
        Assert.Null(Replies.MasterAddress(stdout));

        var missing = sentinel with { PasswordFile = Path.Combine(dir, "missing") };
        var (code, _, _) = await ShAsync(Scripts.SentinelMaster(missing, RedisSet.MasterSet, set.Sentinels[0].Ip));
        Assert.Equal(3, code); // no password file: the script stops before the CLI runs
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("it's")]
    [InlineData("$(touch /tmp/x) `x` \"q\"")]
    public async Task Quote_RoundTripsThroughSh(string word)
    {
        var (_, stdout, _) = await ShAsync("printf %s " + Scripts.Quote(word));
        Assert.Equal(word, stdout);
    }
}
