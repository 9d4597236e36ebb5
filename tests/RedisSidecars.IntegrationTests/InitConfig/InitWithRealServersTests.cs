using RedisSidecars.Testing;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace RedisSidecars.IntegrationTests.InitConfig;

/// <summary>The published redis-init against real redis-server and redis-sentinel processes on loopback addresses.</summary>
public sealed class InitWithRealServersTests(ITestOutputHelper output)
{
    static readonly TimeSpan FailoverWait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ColdStart_ThreeRedisThreeSentinels_FormsWorkingSet()
    {
        await using var set = new RedisSet();
        await set.StartAllAsync();

        Assert.StartsWith("role=master master=" + set.Redis[0].Address + " source=default reason=nothing-reachable", set.Redis[0].LastInitStdout);
        Assert.StartsWith("role=replica master=" + set.Redis[0].Address + " source=peers", set.Redis[1].LastInitStdout);
        Assert.StartsWith("role=sentinel master=" + set.Redis[0].Address + " source=peers", set.Sentinels[0].LastInitStdout);
        // The third Sentinel finds two running peers that agree: a majority of the configured three.
        Assert.StartsWith("role=sentinel master=" + set.Redis[0].Address + " source=sentinels agree=2/3", set.Sentinels[2].LastInitStdout);

        await set.WaitUntilAsync(async () =>
        {
            foreach (var s in set.Sentinels)
            {
                var r = await set.TryExecAsync(s, "SENTINEL", "master", RedisSet.MasterSet);
                if (r is null) return false;
                var dict = r.ToDictionary();
                if ((string?)dict["num-slaves"] != "2" || (string?)dict["num-other-sentinels"] != "2") return false;
            }
            return true;
        }, TimeSpan.FromSeconds(20), "every Sentinel knows 2 replicas and 2 other Sentinels");

        Assert.Equal("OK", (await set.TryExecAsync(set.Redis[0], "SET", "k", "v"))?.ToString());
        await set.WaitUntilAsync(async () => (await set.TryExecAsync(set.Redis[2], "GET", "k"))?.ToString() == "v",
            TimeSpan.FromSeconds(5), "the write reached a replica");
    }

    [Fact]
    public async Task KilledMaster_RestartedAfterFailover_ComesBackAsReplicaWithData()
    {
        await using var set = new RedisSet();
        await set.StartAllAsync();
        await WriteKeysAsync(set, set.Redis[0], 100);
        set.Kill(set.Redis[0]);

        await set.WaitUntilAsync(async () => await set.AgreedMasterAsync() is { } m && m != set.Redis[0].Address, FailoverWait, "Sentinels fail over");
        var newMaster = (await set.AgreedMasterAsync())!;
        output.WriteLine($"new master {newMaster}");

        var init = await set.StartAsync(set.Redis[0]);
        Assert.StartsWith($"role=replica master={newMaster} source=sentinels agree=3/3", init.Stdout);
        await set.WaitUntilAsync(async () => await set.RoleAsync(set.Redis[0]) == "slave"
            && await set.OnlineReplicasAsync(set.NodeAt(newMaster)) == 2, FailoverWait, "old master replicates the new one");
        Assert.Equal("100", (await set.TryExecAsync(set.Redis[0], "DBSIZE"))?.ToString());
        Assert.Equal("v99", (await set.TryExecAsync(set.Redis[0], "GET", "key:99"))?.ToString());
    }

    [Fact]
    public async Task SentinelRestartedAfterFailover_MonitorsNewMaster()
    {
        await using var set = new RedisSet();
        await set.StartAllAsync();
        Assert.Equal("OK", (await set.TryExecAsync(set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
        await set.WaitUntilAsync(async () => await set.AgreedMasterAsync() is { } m && m != set.Redis[0].Address, FailoverWait, "Sentinels agree on the new master");
        var newMaster = (await set.AgreedMasterAsync())!;

        // A recreated Sentinel pod: process gone and config gone.
        var s2 = set.Sentinels[2];
        set.Kill(s2);
        File.Delete(s2.ConfPath);
        var init = await set.StartAsync(s2);

        Assert.StartsWith($"role=sentinel master={newMaster} source=sentinels agree=2/3", init.Stdout);
        Assert.Contains($"sentinel monitor mymaster {newMaster.Replace(':', ' ')} 2", await File.ReadAllTextAsync(s2.ConfPath));
        Assert.Equal(newMaster, await set.SentinelMasterAsync(s2));
        // Same deterministic id as before: its peers do not gain a stale twin.
        await set.WaitUntilAsync(async () =>
        {
            var r = await set.TryExecAsync(set.Sentinels[0], "SENTINEL", "sentinels", RedisSet.MasterSet);
            return r is not null && r.Length == 2;
        }, TimeSpan.FromSeconds(10), "sentinel-0 lists exactly two other Sentinels");
    }

    [Fact]
    public async Task EmptyRestartGuard_MasterRestartsEmpty_WaitsForFailoverAndKeepsReplicasData()
    {
        await using var set = new RedisSet();
        await set.StartAllAsync();
        await WriteKeysAsync(set, set.Redis[0], 50);
        await set.WaitUntilAsync(async () => (await set.TryExecAsync(set.Redis[1], "DBSIZE"))?.ToString() == "50"
            && (await set.TryExecAsync(set.Redis[2], "DBSIZE"))?.ToString() == "50", TimeSpan.FromSeconds(10), "replicas have the data");

        set.Kill(set.Redis[0]);
        Directory.Delete(set.Redis[0].DataDir, recursive: true); // the volume is gone
        Assert.Equal(set.Redis[0].Address, await set.AgreedMasterAsync()); // Sentinels still name it

        var init = await set.InitAsync(set.Redis[0]);
        output.WriteLine(init.Stdout + init.Stderr);
        Assert.Equal(0, init.Code);
        Assert.Contains("data directory has no RDB/AOF", init.Stderr);
        Assert.StartsWith("role=replica master=", init.Stdout);
        Assert.Contains("guard=waited-", init.Stdout);
        Assert.DoesNotContain($"master={set.Redis[0].Address}", init.Stdout);
        Assert.Contains("replicaof ", await File.ReadAllTextAsync(set.Redis[0].ConfPath));

        set.StartServer(set.Redis[0]);
        var newMaster = set.NodeAt((await set.AgreedMasterAsync())!);
        await set.WaitUntilAsync(async () => await set.OnlineReplicasAsync(newMaster) == 2, FailoverWait, "the emptied pod resyncs from the new master");
        foreach (var n in set.Redis)
            Assert.Equal("50", (await set.TryExecAsync(n, "DBSIZE"))?.ToString());
    }

    [Fact]
    public async Task EmptyRestartGuard_NoFailoverPossible_ExitsNonZeroAndWritesNothing()
    {
        await using var set = new RedisSet();
        await set.StartAllAsync();
        await WriteKeysAsync(set, set.Redis[0], 10);
        await set.WaitUntilAsync(async () => await set.OnlineReplicasAsync(set.Redis[0]) == 2, TimeSpan.FromSeconds(10), "replicas online");
        // Sentinels cannot fail over without a quorum: stop two of them, then lose the master's volume.
        set.Kill(set.Sentinels[1]);
        set.Kill(set.Sentinels[2]);
        set.Kill(set.Redis[0]);
        Directory.Delete(set.Redis[0].DataDir, recursive: true);
        File.Delete(set.Redis[0].ConfPath);

        // One Sentinel is no majority, so the peers decide: they still name the lost master (replicas of it).
        var init = await set.InitAsync(set.Redis[0], new Dictionary<string, string> { ["MASTER_WAIT_TIMEOUT_MS"] = "3000" });
        output.WriteLine(init.Stdout + init.Stderr);
        Assert.Equal(1, init.Code);
        Assert.Contains("refusing to start as master with an empty data directory", init.Stderr);
        Assert.Equal("", init.Stdout);
        Assert.False(File.Exists(set.Redis[0].ConfPath));
        Assert.Equal("10", (await set.TryExecAsync(set.Redis[1], "DBSIZE"))?.ToString());
    }

    [Fact]
    public async Task PasswordWithSpacesQuotesHashDollarBackslashes_WorksForRedisReplication()
    {
        const string password = "p a\"s's #w$rd\\x41\\ ${HOME} \u00fc\t";
        await using var set = new RedisSet(password: password);
        foreach (var n in set.Redis) await set.StartAsync(n);

        // masterauth round-tripped through Redis's own parser: both replicas synced with the master.
        await set.WaitUntilAsync(async () => await set.OnlineReplicasAsync(set.Redis[0]) == 2, TimeSpan.FromSeconds(15), "replicas authenticated and online");
        Assert.Equal("PONG", (await set.TryExecAsync(set.Redis[1], "PING"))?.ToString());

        var wrong = set.Options(set.Redis[0]);
        wrong.Password = "wrong";
        await using (var bad = await ConnectionMultiplexer.ConnectAsync(wrong))
            Assert.False(bad.IsConnected);

        foreach (var n in set.Redis)
        {
            Assert.DoesNotContain(password, await File.ReadAllTextAsync(n.ConfPath)); // quoted and escaped, not verbatim
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(n.ConfPath));
        }

        // Sentinel would rewrite that auth-pass unquoted and could not read its own file back: refused up front.
        var sentinel = await set.InitAsync(set.Sentinels[0]);
        Assert.Equal(2, sentinel.Code);
        Assert.Single(sentinel.Stderr.Trim().Split('\n'));
        Assert.Contains("REDIS_PASSWORD contains a space, tab, quote or control character", sentinel.Stderr);
        Assert.DoesNotContain("w$rd", sentinel.Stderr);
        Assert.False(File.Exists(set.Sentinels[0].ConfPath));
    }

    [Fact]
    public async Task SentinelSafePassword_SurvivesFailoverRewriteAndSentinelRestart()
    {
        const string password = "p#w$rd\\x41\\\u00fc${HOME}";
        const string sentinelPassword = "s3nt#$\\";
        await using var set = new RedisSet(password: password, sentinelPassword: sentinelPassword);
        await set.StartAllAsync();
        await set.WaitUntilAsync(async () =>
        {
            var d = (await set.TryExecAsync(set.Sentinels[0], "SENTINEL", "master", RedisSet.MasterSet))?.ToDictionary();
            return d is not null && (string?)d["num-slaves"] == "2" && (string?)d["num-other-sentinels"] == "2" && !((string?)d["flags"] ?? "").Contains("down");
        }, TimeSpan.FromSeconds(20), "Sentinels see the set through authenticated connections");

        // A failover makes every Sentinel rewrite its config; a restarted Sentinel container re-reads that file.
        Assert.Equal("OK", (await set.TryExecAsync(set.Sentinels[0], "SENTINEL", "FAILOVER", RedisSet.MasterSet))?.ToString());
        await set.WaitUntilAsync(async () => await set.AgreedMasterAsync() is { } m && m != set.Redis[0].Address, FailoverWait, "failover done");
        var s1 = set.Sentinels[1];
        set.Kill(s1);
        set.StartServer(s1); // no init: the file as Sentinel rewrote it
        await set.WaitUntilAsync(async () => await set.SentinelMasterAsync(s1) == await set.AgreedMasterAsync(), TimeSpan.FromSeconds(10),
            "the restarted Sentinel parsed its rewritten config and authenticated");
        foreach (var n in set.Redis.Concat(set.Sentinels))
            Assert.DoesNotContain("s3nt", n.LastInitStdout);
    }

    [Fact]
    public async Task SentinelsDown_RestartedPod_PeersDecide()
    {
        await using var set = new RedisSet(sentinelCount: 3);
        foreach (var n in set.Redis) await set.StartAsync(n);
        await set.WaitUntilAsync(async () => await set.OnlineReplicasAsync(set.Redis[0]) == 2, TimeSpan.FromSeconds(15), "replicas online");
        // A manual failover with no Sentinel running: redis-1 becomes master, redis-2 follows it.
        Assert.Equal("OK", (await set.TryExecAsync(set.Redis[1], "REPLICAOF", "NO", "ONE"))?.ToString());
        Assert.Equal("OK", (await set.TryExecAsync(set.Redis[2], "REPLICAOF", set.Redis[1].Ip, "6379"))?.ToString());
        set.Kill(set.Redis[0]);

        var init = await set.InitAsync(set.Redis[0]);
        Assert.Equal(0, init.Code);
        Assert.StartsWith($"role=replica master={set.Redis[1].Address} source=peers masters=1", init.Stdout);
        Assert.Contains($"sentinel {set.Sentinels[0].Address}: unreachable", init.Stderr);
    }

    [Fact]
    public async Task NothingReachable_NonZeroOrdinal_ReplicatesPodZero()
    {
        await using var set = new RedisSet();
        var init = await set.InitAsync(set.Redis[2]);
        Assert.Equal(0, init.Code);
        Assert.Equal($"role=replica master={set.Redis[0].Address} source=default reason=nothing-reachable\n", init.Stdout);
        Assert.EndsWith($"replicaof {set.Redis[0].Ip} 6379\n", await File.ReadAllTextAsync(set.Redis[2].ConfPath));
    }

    [Fact]
    public async Task TemplateSaysOtherPorts_ServersListenOnAndAnnounceOnlyTheConfiguredPorts()
    {
        // Seen on a cluster: REDIS_PORT=6390 with a template saying `port 6379` → Redis listened on 6379, announced 6390.
        await using var set = new RedisSet(redisCount: 2, sentinelCount: 2);
        const int redisPort = 6390, sentinelPort = 26390;
        var overrides = new Dictionary<string, string>
        {
            ["REDIS_PORT"] = redisPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SENTINEL_PORT"] = sentinelPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["REDIS_NODES"] = string.Join(",", set.Redis.Select(n => $"{n.Ip}:{redisPort}")),
            ["SENTINEL_NODES"] = string.Join(",", set.Sentinels.Select(n => $"{n.Ip}:{sentinelPort}")),
        };
        foreach (var n in set.Redis.Concat(set.Sentinels))
        {
            var port = n.Kind == NodeKind.Redis ? redisPort : sentinelPort;
            Assert.Contains($"\nport {n.Port}\n", await File.ReadAllTextAsync(n.TemplatePath)); // the template says 6379 / 26379
            var init = await set.InitAsync(n, overrides);
            Assert.True(init.Code == 0, init.Stderr);
            set.StartServer(n);
            await set.WaitUntilAsync(async () => (await ExecAtAsync(set, n, port, "PING"))?.ToString() == "PONG", TimeSpan.FromSeconds(10),
                $"{n.Name} answers PING on {n.Ip}:{port}");
            Assert.False(await AcceptsAsync(n.Ip, n.Port), $"{n.Name} also listens on the template's port {n.Port}");
        }

        // Redis announces what it listens on: the master lists its replica at the configured port.
        var replica = set.Redis[1];
        await set.WaitUntilAsync(async () => ((await ExecAtAsync(set, set.Redis[0], redisPort, "INFO", "replication"))?.ToString() ?? "")
            .Contains($"slave0:ip={replica.Ip},port={redisPort},state=online", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the replica is online at port 6390");
        // Sentinel reaches the replica and the other Sentinel at the announced ports.
        await set.WaitUntilAsync(async () =>
        {
            var replicas = await ExecAtAsync(set, set.Sentinels[0], sentinelPort, "SENTINEL", "replicas", RedisSet.MasterSet);
            var sentinels = await ExecAtAsync(set, set.Sentinels[0], sentinelPort, "SENTINEL", "sentinels", RedisSet.MasterSet);
            if (replicas is not { Length: 1 } || sentinels is not { Length: 1 }) return false;
            var r = replicas[0].ToDictionary();
            var s = sentinels[0].ToDictionary();
            return (string?)r["ip"] == replica.Ip && (string?)r["port"] == $"{redisPort}" && !((string?)r["flags"] ?? "").Contains("down")
                && (string?)s["ip"] == set.Sentinels[1].Ip && (string?)s["port"] == $"{sentinelPort}" && !((string?)s["flags"] ?? "").Contains("down");
        }, TimeSpan.FromSeconds(20), "sentinel-0 sees the replica at 6390 and sentinel-1 at 26390, both up");
        Assert.Equal($"{set.Redis[0].Ip}:{redisPort}", await SentinelMasterAtAsync(set, set.Sentinels[1], sentinelPort));
    }

    /// <summary><see cref="RedisSet.TryExecAsync"/> at a port other than the node's default one.</summary>
    static async Task<RedisResult?> ExecAtAsync(RedisSet set, Node n, int port, string command, params object[] args)
    {
        var o = set.Options(n);
        o.EndPoints.Clear();
        o.EndPoints.Add(n.Ip, port);
        o.AbortOnConnectFail = true;
        try
        {
            await using var mux = await ConnectionMultiplexer.ConnectAsync(o).WaitAsync(TimeSpan.FromSeconds(3));
            return await mux.GetServer(n.Ip, port).ExecuteAsync(command, args).WaitAsync(TimeSpan.FromSeconds(3));
        }
        catch (Exception e) when (e is RedisException or TimeoutException) { return null; }
    }

    static async Task<string?> SentinelMasterAtAsync(RedisSet set, Node sentinel, int port)
    {
        var r = await ExecAtAsync(set, sentinel, port, "SENTINEL", "get-master-addr-by-name", RedisSet.MasterSet);
        return r is null || r.IsNull ? null : $"{(string?)r[0]}:{(string?)r[1]}";
    }

    /// <summary>Whether anything accepts TCP connections at ip:port (the address is this set's own loopback address).</summary>
    static async Task<bool> AcceptsAsync(string ip, int port)
    {
        using var client = new System.Net.Sockets.TcpClient();
        try
        {
            await client.ConnectAsync(System.Net.IPAddress.Parse(ip), port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (System.Net.Sockets.SocketException) { return false; }
    }

    static async Task WriteKeysAsync(RedisSet set, Node master, int count)
    {
        for (var i = 0; i < count; i++)
            Assert.Equal("OK", (await set.TryExecAsync(master, "SET", $"key:{i}", $"v{i}"))?.ToString());
        Assert.NotNull(await set.TryExecAsync(master, "WAIT", "2", "5000"));
    }
}
