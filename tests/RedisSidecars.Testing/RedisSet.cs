using System.Diagnostics;
using System.Globalization;
using System.Text;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Roles;
using RedisSidecars.Redis;
using StackExchange.Redis;

namespace RedisSidecars.Testing;

public enum NodeKind { Redis, Sentinel }

/// <summary>One "pod": a loopback address, a directory, and the real server process once started.</summary>
public sealed class Node(NodeKind kind, int ordinal, string ip, int port, string root)
{
    public NodeKind Kind { get; } = kind;
    public int Ordinal { get; } = ordinal;
    public string Name { get; } = (kind == NodeKind.Redis ? "redis-" : "sentinel-") + ordinal;
    public string Ip { get; } = ip;
    public int Port { get; } = port;
    public string Address => $"{Ip}:{Port}";
    public string Dir { get; } = Directory.CreateDirectory(Path.Combine(root, (kind == NodeKind.Redis ? "redis-" : "sentinel-") + ordinal)).FullName;
    public string DataDir => Directory.CreateDirectory(Path.Combine(Dir, "data")).FullName;
    public string ConfDir => Directory.CreateDirectory(Path.Combine(Dir, "etc")).FullName;
    public string ConfPath => Path.Combine(ConfDir, Kind == NodeKind.Redis ? "redis.conf" : "sentinel.conf");
    public string TemplatePath => Path.Combine(Dir, "template.conf");
    public string LogPath => Path.Combine(Dir, "server.log");
    public Process? Process { get; set; }
    public bool Running => Process is { HasExited: false };
    public string? LastInitStdout { get; set; }
}

public sealed record InitResult(int Code, string Stdout, string Stderr);

/// <summary>
/// A Redis + Sentinel set on loopback addresses: real redis-server / redis-sentinel processes whose
/// configs are written by the published redis-init binary. Disposing kills every process and deletes the files.
/// </summary>
public sealed class RedisSet : IAsyncDisposable
{
    public const string MasterSet = "mymaster";
    readonly string root;
    readonly string? passwordFile;
    readonly string? sentinelPasswordFile;

    /// <param name="block">Loopback block N (Redis on 127.N.1.x, Sentinels on 127.N.2.x); null takes the next free
    /// test block. The demo passes 0 for the documented fixed addresses 127.0.1.x / 127.0.2.x.</param>
    public RedisSet(int redisCount = 3, int sentinelCount = 3, string? password = null, string? sentinelPassword = null,
        IDictionary<string, string>? extraEnv = null, int? block = null)
    {
        Block = block ?? LoopbackBlocks.Next();
        root = Directory.CreateTempSubdirectory("redis-sidecars-it-").FullName;
        Redis = Enumerable.Range(0, redisCount).Select(i => new Node(NodeKind.Redis, i, $"127.{Block}.1.{i + 1}", 6379, root)).ToArray();
        Sentinels = Enumerable.Range(0, sentinelCount).Select(i => new Node(NodeKind.Sentinel, i, $"127.{Block}.2.{i + 1}", 26379, root)).ToArray();
        Password = password;
        SentinelPassword = sentinelPassword;
        if (password is not null) passwordFile = WriteSecret("redis-password", password);
        if (sentinelPassword is not null) sentinelPasswordFile = WriteSecret("sentinel-password", sentinelPassword);
        ExtraEnv = new Dictionary<string, string>(extraEnv ?? new Dictionary<string, string>());
        foreach (var n in Redis.Concat(Sentinels)) WriteTemplate(n);
    }

    public int Block { get; }
    public IReadOnlyList<Node> Redis { get; }
    public IReadOnlyList<Node> Sentinels { get; }
    public string? Password { get; }
    public string? SentinelPassword { get; }
    public Dictionary<string, string> ExtraEnv { get; }
    public string Root => root;

    public string RedisNodes => string.Join(",", Redis.Select(n => n.Address));
    public string SentinelNodes => string.Join(",", Sentinels.Select(n => n.Address));

    string WriteSecret(string name, string value)
    {
        var path = Path.Combine(root, name);
        File.WriteAllText(path, value + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    void WriteTemplate(Node n)
    {
        // bind-source-addr: replication and Sentinel connections leave from the pod's own address, as in a cluster (Redis 7
        // otherwise connects from 127.0.0.1), so that a LoopbackPartition can cut them.
        var common = $"""
            bind {n.Ip}
            bind-source-addr {n.Ip}
            port {n.Port}
            protected-mode no
            daemonize no
            logfile "{n.LogPath}"

            """;
        var text = n.Kind == NodeKind.Redis
            ? common + $"""
                dir "{n.DataDir}"
                appendonly yes
                appendfsync everysec
                save ""
                repl-diskless-sync yes
                repl-diskless-sync-delay 0
                """
            : common + $"""
                dir "{n.ConfDir}"
                """;
        File.WriteAllText(n.TemplatePath, text + "\n");
    }

    /// <summary>The environment a pod's containers get: explicit node lists, its own address, fast Sentinel timings.</summary>
    public Dictionary<string, string> EnvFor(Node n)
    {
        var env = new Dictionary<string, string>
        {
            ["POD_NAME"] = n.Name,
            ["POD_NAMESPACE"] = "it",
            ["REDIS_NODES"] = RedisNodes,
            ["SENTINEL_NODES"] = SentinelNodes,
            ["ANNOUNCE_HOST"] = n.Ip,
            ["MASTER_SET_NAME"] = MasterSet,
            ["DATA_DIR"] = Redis[Math.Min(n.Ordinal, Redis.Count - 1)].DataDir,
            ["SENTINEL_DOWN_AFTER_MS"] = "2000",
            ["SENTINEL_FAILOVER_TIMEOUT_MS"] = "4000",
            ["DISCOVERY_TIMEOUT_MS"] = "3000",
            ["MASTER_WAIT_TIMEOUT_MS"] = "30000",
        };
        if (n.Kind == NodeKind.Redis) env["DATA_DIR"] = n.DataDir;
        if (passwordFile is not null) env["REDIS_PASSWORD_FILE"] = passwordFile;
        if (sentinelPasswordFile is not null) env["SENTINEL_PASSWORD_FILE"] = sentinelPasswordFile;
        foreach (var (k, v) in ExtraEnv) env[k] = v;
        return env;
    }

    /// <summary>Runs the published redis-init for this pod, as its init container would.</summary>
    public async Task<InitResult> InitAsync(Node n, IDictionary<string, string>? overrides = null, TimeSpan? timeout = null)
    {
        var env = EnvFor(n);
        foreach (var (k, v) in overrides ?? new Dictionary<string, string>()) env[k] = v;
        var mode = n.Kind == NodeKind.Redis ? "redis" : "sentinel";
        var (code, stdout, stderr) = await Tools.RunAsync(Tools.RedisInit, [mode, "--template", n.TemplatePath, "--output", n.ConfPath], env, timeout ?? TimeSpan.FromSeconds(90));
        n.LastInitStdout = stdout;
        return new InitResult(code, stdout, stderr);
    }

    /// <summary>Init then start the server; fails the test if init fails.</summary>
    public async Task<InitResult> StartAsync(Node n, IDictionary<string, string>? overrides = null)
    {
        var init = await InitAsync(n, overrides);
        if (init.Code != 0) throw new InvalidOperationException($"redis-init for {n.Name} exited {init.Code}: {init.Stderr}");
        StartServer(n);
        await WaitUntilAsync(async () => await PingAsync(n), TimeSpan.FromSeconds(10), $"{n.Name} answers PING");
        return init;
    }

    /// <summary>Starts the node's server on the config redis-init wrote (the server logs to its own file).</summary>
    public void StartServer(Node n, bool newSession = false) =>
        n.Process = Programs.Start(n.Kind == NodeKind.Redis ? Tools.RedisServer : Tools.RedisSentinel, [n.ConfPath], newSession: newSession);

    /// <summary>Cold start: Redis pods in ordinal order, then Sentinels, as StatefulSets with OrderedReady do.</summary>
    public async Task StartAllAsync()
    {
        foreach (var n in Redis) await StartAsync(n);
        foreach (var n in Sentinels) await StartAsync(n);
        await WaitUntilAsync(async () => (await SentinelMasterAsync(Sentinels[0])) is not null
            && (await OnlineReplicasAsync(Redis[0])) == Redis.Count - 1, TimeSpan.FromSeconds(30), "set formed: master has all replicas online");
    }

    public void Kill(Node n)
    {
        if (n.Process is { } p && !p.HasExited) { Signals.Send(p.Id, Signals.SIGKILL); p.WaitForExit(5000); }
    }

    public void Pause(Node n) { if (n.Process is { } p) Signals.Send(p.Id, Signals.SIGSTOP); }
    public void Resume(Node n) { if (n.Process is { } p) Signals.Send(p.Id, Signals.SIGCONT); }

    public ConfigurationOptions Options(Node n, int timeoutMs = 1000)
    {
        var o = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = timeoutMs,
            SyncTimeout = timeoutMs,
            AsyncTimeout = timeoutMs,
            AllowAdmin = true,
            BacklogPolicy = BacklogPolicy.FailFast,
            Protocol = RedisProtocol.Resp2,
        };
        o.EndPoints.Add(n.Ip, n.Port);
        if (n.Kind == NodeKind.Sentinel) { o.CommandMap = CommandMap.Sentinel; o.Password = SentinelPassword; }
        else o.Password = Password;
        return o;
    }

    /// <summary>
    /// One typed call (e.g. <c>s =&gt; s.RoleAsync()</c>, <c>s =&gt; s.SentinelMasterAsync(MasterSet)</c>) on a fresh connection;
    /// default when the node does not answer or answers with an error.
    /// </summary>
    public async Task<T?> TryAsync<T>(Node n, Func<IServer, Task<T>> call)
    {
        try
        {
            await using var mux = await ConnectAsync(n);
            return await call(mux.GetServer(n.Ip, n.Port)).WaitAsync(TimeSpan.FromSeconds(3));
        }
        catch (Exception e) when (e is RedisException or TimeoutException) { return default; }
    }

    /// <summary>A Redis pod's <c>INFO replication</c> through <see cref="RedisReplies.LocalState"/>; null when it does not answer.</summary>
    public Task<LocalRedisState?> ReplicationAsync(Node n) =>
        TryAsync<LocalRedisState?>(n, async server => RedisReplies.LocalState(await server.InfoAsync("replication")));

    /// <summary>A Sentinel's answer (address, config epoch, failover in progress) as the programs read it (<see cref="DiscoveryClient.AskAsync"/>).</summary>
    public async Task<SentinelAnswer?> SentinelAnswerAsync(Node sentinel)
    {
        var address = new NodeAddress(sentinel.Ip, sentinel.Port);
        return await TryAsync<SentinelAnswer?>(sentinel, async server => await DiscoveryClient.AskAsync(server, address, MasterSet, TimeSpan.FromSeconds(3), CancellationToken.None)) is { Answered: true } a ? a : null;
    }

    /// <summary>A connection to one node that fails at once when the node does not answer (no reconnecting in the background).</summary>
    public async Task<ConnectionMultiplexer> ConnectAsync(Node n, int timeoutMs = 1000, CancellationToken ct = default)
    {
        var o = Options(n, timeoutMs);
        o.AbortOnConnectFail = true;
        return await ConnectionMultiplexer.ConnectAsync(o).WaitAsync(TimeSpan.FromMilliseconds(timeoutMs * 3), ct);
    }

    /// <summary>One command StackExchange.Redis does not type (SET, DBSIZE, SENTINEL SET, …) on a fresh connection; null when the node does not answer.</summary>
    public Task<RedisResult?> TryExecAsync(Node n, string command, params object[] args) => TryAsync(n, s => s.ExecuteAsync(command, args))!;

    public async Task<bool> PingAsync(Node n) => (await TryExecAsync(n, "PING"))?.ToString() == "PONG";

    /// <summary>SENTINEL FAILOVER on <paramref name="sentinel"/>; true when it accepted (false: refused, e.g. -NOGOODSLAVE, or no answer).</summary>
    public async Task<bool> TryFailoverAsync(Node sentinel) =>
        await TryAsync(sentinel, async s => { await s.SentinelFailoverAsync(MasterSet); return "OK"; }) is not null;

    /// <summary>The master a Sentinel names (<c>get-master-addr-by-name</c>), as host:port, or null.</summary>
    public async Task<string?> SentinelMasterAsync(Node sentinel) =>
        await TryAsync(sentinel, s => s.SentinelGetMasterAddressByNameAsync(MasterSet)) is { } e && RedisReplies.ToNode(e, out _) is { } node ? node.ToString() : null;

    /// <summary>A Sentinel's <c>SENTINEL MASTER</c> row, or null.</summary>
    public async Task<SentinelEntry?> SentinelMasterEntryAsync(Node sentinel) =>
        await TryAsync(sentinel, s => s.SentinelMasterAsync(MasterSet)) is { } row ? RedisReplies.SentinelEntry(row) : null;

    /// <summary>A Sentinel's <c>SENTINEL REPLICAS</c> or <c>SENTINEL SENTINELS</c> table, or null.</summary>
    public async Task<IReadOnlyList<SentinelEntry>?> SentinelTableAsync(Node sentinel, bool sentinels = false) =>
        await TryAsync(sentinel, s => sentinels ? s.SentinelSentinelsAsync(MasterSet) : s.SentinelReplicasAsync(MasterSet)) is { } rows
            ? [.. rows.Select(RedisReplies.SentinelEntry)]
            : null;

    /// <summary>Whether a Sentinel is in TILT (null: no answer).</summary>
    public async Task<bool?> SentinelTiltAsync(Node sentinel) =>
        await TryAsync(sentinel, s => s.InfoAsync("sentinel")) is { } info ? RedisReplies.Tilt(info) : null;

    /// <summary>The master every running Sentinel agrees on, or null.</summary>
    public async Task<string?> AgreedMasterAsync()
    {
        var answers = new List<string?>();
        foreach (var s in Sentinels.Where(s => s.Running)) answers.Add(await SentinelMasterAsync(s));
        return answers.Count > 0 && answers.All(a => a is not null && a == answers[0]) ? answers[0] : null;
    }

    /// <summary><c>ROLE</c>, typed (<see cref="Role.Master"/>, <see cref="Role.Replica"/>), or null.</summary>
    public Task<Role?> RoleOfAsync(Node n) => TryAsync(n, s => s.RoleAsync())!;

    /// <summary>"master" or "slave" (<c>ROLE</c>'s first element), or null.</summary>
    public async Task<string?> RoleAsync(Node n) => (await RoleOfAsync(n))?.Value;

    /// <summary>Replicas the master lists as state=online (synced, not merely connected).</summary>
    public async Task<int> OnlineReplicasAsync(Node master) => (await ReplicationAsync(master))?.OnlineReplicas.Count ?? 0;

    /// <summary>
    /// Waits until Sentinel has settled (<see cref="SettledAsync"/>) and returns the master it settled on.
    /// Forcing the next failover earlier races Sentinel's own reconfiguration of the last one (a node promoted by
    /// the new failover can be turned back into a replica by a late +convert-to-slave of the previous one).
    /// </summary>
    public async Task<Node> WaitForSettledAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        (Node? Master, string? Why) last = default;
        await WaitUntilAsync(async () => (last = await SettledAsync()).Master is not null, timeout,
            "Sentinel settled (one master, same epoch everywhere, every replica linked to it)", ct, () => last.Why);
        return last.Master!;
    }

    /// <summary>
    /// One look at whether Sentinel has settled: every running Sentinel names the same master with the same config
    /// epoch and plain "master" flags (no down state, no failover in progress), lists every other running Redis as a
    /// replica of it (flags "slave", link ok), and the master itself reports role master with those replicas online.
    /// Returns the master, or null and why not.
    /// </summary>
    /// <param name="leaveOut">Redis pods and Sentinels to leave out: killed or hung (SIGSTOP) ones, which a Sentinel lists
    /// as down and a hung process does not answer.</param>
    /// <param name="notMaster">A master that does not count as settled (e.g. the killed one, before the failover).</param>
    public async Task<(Node? Master, string? Why)> SettledAsync(IReadOnlyCollection<Node>? leaveOut = null, Node? notMaster = null)
    {
        var skip = leaveOut ?? [];
        var sentinels = Sentinels.Where(s => s.Running && !skip.Contains(s)).ToArray();
        if (sentinels.Length == 0) return (null, "no Sentinel running");
        var up = Redis.Where(n => n.Running && !skip.Contains(n)).ToArray();
        NodeAddress? master = null;
        long epoch = 0;
        foreach (var s in sentinels)
        {
            if (await SentinelMasterEntryAsync(s) is not { Address: { } address } m) return (null, $"{s.Name} does not answer SENTINEL MASTER");
            if (!m.Plain("master")) return (null, $"{s.Name}: master {address} flags={m.FlagText}");
            if (master is null) (master, epoch) = (address, m.ConfigEpoch);
            else if (master != address || epoch != m.ConfigEpoch)
                return (null, $"Sentinels disagree: {sentinels[0].Name} names {master} (epoch {epoch}), {s.Name} names {address} (epoch {m.ConfigEpoch})");
        }
        var node = Redis.FirstOrDefault(n => n.Address == master.ToString());
        if (node is null) return (null, $"Sentinels name an unknown address {master}");
        if (node == notMaster) return (null, $"Sentinels still name {node.Name}");
        if (!up.Contains(node)) return (null, $"Sentinels name {node.Name}, which is down");
        var expected = up.Where(n => n != node).ToArray();
        foreach (var s in sentinels)
        {
            if (await SentinelTableAsync(s) is not { } replicas) return (null, $"{s.Name} does not answer SENTINEL REPLICAS");
            foreach (var r in expected)
            {
                var entry = replicas.FirstOrDefault(e => e.Address?.ToString() == r.Address);
                if (entry is null) return (null, $"{s.Name} does not list {r.Name} as a replica");
                if (!entry.Plain("slave") || !entry.LinkOk || entry.MasterOf != master)
                    return (null, $"{s.Name} lists {r.Name} with flags={entry.FlagText} link={(entry.LinkOk ? "ok" : "down")} master={entry.MasterOf}");
            }
        }
        var state = await ReplicationAsync(node);
        if (state is not { Role: LocalRole.Master }) return (null, $"Sentinels name {node.Name}, which is {state?.Describe() ?? "unreachable"}");
        var online = state.OnlineReplicas.Count(l => expected.Any(r => r.Address == l.Address.ToString()));
        if (online < expected.Length) return (null, $"{node.Name} has {online}/{expected.Length} replicas online");
        return (node, null);
    }

    public Node NodeAt(string address) => Redis.Concat(Sentinels).Single(n => n.Address == address);

    /// <summary>The one wait (<see cref="Wait.UntilAsync"/>) with this set's log tails as diagnostics.</summary>
    public Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken ct = default,
        Func<string?>? why = null, TimeSpan? poll = null) =>
        Wait.UntilAsync(condition, timeout, what, () => Task.FromResult(Diagnostics()), ct, why, poll);

    /// <summary>The tail of every server's log, for failure messages.</summary>
    public string Diagnostics()
    {
        var sb = new StringBuilder();
        foreach (var n in Redis.Concat(Sentinels))
        {
            sb.AppendLine($"--- {n.Name} {n.Address} running={n.Running} init: {n.LastInitStdout?.Trim()}");
            sb.Append(Text.Tail(n.LogPath, 30));
        }
        return sb.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Redis.Concat(Sentinels))
        {
            if (n.Process is { } p)
            {
                try { if (!p.HasExited) { Signals.Send(p.Id, Signals.SIGCONT); p.Kill(); await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)); } }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
                p.Dispose();
            }
        }
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        LoopbackBlocks.Release(Block);
    }
}
