using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using Xunit;

namespace RedisSidecars.UnitTests.Core;

/// <summary>
/// The test topology: three Redis "pods" on 127.0.1.1-3:6379 and three Sentinels on 127.0.2.1-3:26379,
/// as in DESIGN.md "Addressing" (every pod on its own loopback address).
/// </summary>
public static class Topology
{
    public const string RedisList = "127.0.1.1:6379,127.0.1.2:6379,127.0.1.3:6379";
    public const string SentinelList = "127.0.2.1:26379,127.0.2.2:26379,127.0.2.3:26379";

    public static NodeAddress RedisNode(int ordinal) => new($"127.0.1.{ordinal + 1}", 6379);
    public static NodeAddress SentinelNode(int ordinal) => new($"127.0.2.{ordinal + 1}", 26379);
    public static NodeAddress Addr(string text) =>
        NodeAddress.TryParse(text, null, out var a, out var e) ? a : throw new ArgumentException(e, nameof(text));
}

/// <summary>Builds settings the way the programs do: through <see cref="SettingsValidator.Validate"/>.</summary>
public static class SettingsBuilder
{
    /// <summary>Raw options for pod <paramref name="podName"/> with explicit node lists and a loopback announce host.</summary>
    public static RawOptions Raw(string podName, Action<RawOptions>? tweak = null)
    {
        var raw = new RawOptions { PodName = podName, RedisNodes = Topology.RedisList, SentinelNodes = Topology.SentinelList };
        var dash = podName.LastIndexOf('-');
        if (dash > 0 && int.TryParse(podName[(dash + 1)..], out var ordinal))
            raw.AnnounceHost = podName.StartsWith("sentinel", StringComparison.Ordinal) ? $"127.0.2.{ordinal + 1}" : $"127.0.1.{ordinal + 1}";
        tweak?.Invoke(raw);
        return raw;
    }

    public static CommonSettings Redis(int ordinal = 0, Action<RawOptions>? tweak = null) =>
        Valid(Raw($"redis-{ordinal}", tweak), NodeMode.Redis);

    public static CommonSettings Sentinel(int ordinal = 0, Action<RawOptions>? tweak = null) =>
        Valid(Raw($"sentinel-{ordinal}", tweak), NodeMode.Sentinel);

    public static CommonSettings Valid(RawOptions raw, NodeMode mode, ISettingsFiles? files = null)
    {
        var (settings, errors) = SettingsValidator.Validate(raw, mode, files ?? new FakeSettingsFiles());
        Assert.True(settings is not null, "expected valid settings, got: " + SettingsValidator.OneLine(errors));
        Assert.Empty(errors);
        return settings;
    }

    public static IReadOnlyList<string> Errors(RawOptions raw, NodeMode mode, ISettingsFiles? files = null)
    {
        var (settings, errors) = SettingsValidator.Validate(raw, mode, files ?? new FakeSettingsFiles());
        Assert.Null(settings);
        Assert.NotEmpty(errors);
        return errors;
    }
}

/// <summary>
/// An in-memory file system for <c>*_FILE</c> secrets, TLS files and KUBECONFIG that fails like Linux does: a missing
/// path throws <see cref="FileNotFoundException"/>; reading a directory, or a file this process may not read, throws
/// <see cref="UnauthorizedAccessException"/>. The directories above every file exist.
/// </summary>
public sealed class FakeSettingsFiles : ISettingsFiles
{
    readonly Dictionary<string, string> files = new(StringComparer.Ordinal);
    readonly HashSet<string> directories = new(StringComparer.Ordinal);
    readonly HashSet<string> unreadable = new(StringComparer.Ordinal);

    public FakeSettingsFiles With(string path, string content)
    {
        files[path] = content;
        return this;
    }

    public FakeSettingsFiles WithDirectory(string path)
    {
        directories.Add(path);
        return this;
    }

    /// <summary>A file that exists but that this process may not read (mode 0400, another owner).</summary>
    public FakeSettingsFiles WithUnreadable(string path)
    {
        unreadable.Add(path);
        return this;
    }

    public string ReadAllText(string path) => KindOf(path) switch
    {
        PathKind.Directory => throw new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
        _ when unreadable.Contains(path) => throw new UnauthorizedAccessException($"Access to the path '{path}' is denied."),
        _ => files.TryGetValue(path, out var content) ? content : throw new FileNotFoundException("no such file", path),
    };

    public PathKind KindOf(string path)
    {
        if (files.ContainsKey(path) || unreadable.Contains(path)) return PathKind.File;
        var prefix = path.TrimEnd('/') + "/";
        return directories.Contains(path) || files.Keys.Concat(unreadable).Concat(directories).Any(p => p.StartsWith(prefix, StringComparison.Ordinal))
            ? PathKind.Directory
            : PathKind.Missing;
    }
}

/// <summary>
/// A scripted <see cref="IDiscoveryClient"/>. Each call is one "round" (0, 1, …) and is recorded with
/// the nodes it was asked about. By default nothing answers.
/// </summary>
public sealed class FakeDiscoveryClient : IDiscoveryClient
{
    readonly ConcurrentQueue<IReadOnlyList<NodeAddress>> sentinelCalls = new();
    readonly ConcurrentQueue<IReadOnlyList<NodeAddress>> peerCalls = new();

    /// <summary>(round, sentinel) → its answer.</summary>
    public Func<int, NodeAddress, SentinelAnswer> Sentinels { get; set; } = (_, s) => SentinelAnswer.Failed(s, "connection refused");
    /// <summary>(round, peer) → its answer.</summary>
    public Func<int, NodeAddress, PeerAnswer> Peers { get; set; } = (_, p) => PeerAnswer.Failed(p, "connection refused");

    public IReadOnlyList<IReadOnlyList<NodeAddress>> SentinelCalls => sentinelCalls.ToArray();
    public IReadOnlyList<IReadOnlyList<NodeAddress>> PeerCalls => peerCalls.ToArray();

    public Task<IReadOnlyList<SentinelAnswer>> AskSentinelsAsync(IReadOnlyList<NodeAddress> sentinels, TimeSpan timeout, CancellationToken ct)
    {
        Assert.True(timeout > TimeSpan.Zero, $"a call must get a positive timeout, got {timeout}");
        var round = sentinelCalls.Count;
        sentinelCalls.Enqueue(sentinels.ToArray());
        return Task.FromResult<IReadOnlyList<SentinelAnswer>>(sentinels.Select(s => Sentinels(round, s)).ToArray());
    }

    public Task<IReadOnlyList<PeerAnswer>> AskPeersAsync(IReadOnlyList<NodeAddress> peers, TimeSpan timeout, CancellationToken ct)
    {
        Assert.True(timeout > TimeSpan.Zero, $"a call must get a positive timeout, got {timeout}");
        var round = peerCalls.Count;
        peerCalls.Enqueue(peers.ToArray());
        return Task.FromResult<IReadOnlyList<PeerAnswer>>(peers.Select(p => Peers(round, p)).ToArray());
    }

    // Scripts for the common cases.
    public static Func<int, NodeAddress, SentinelAnswer> AllSay(NodeAddress master) => (_, s) => new SentinelAnswer(s, master, false);
    public static Func<int, NodeAddress, PeerAnswer> ReplicasOf(NodeAddress master, bool holdData = true) =>
        (_, p) => p.Equals(master)
            ? new PeerAnswer(p, PeerRole.Master, ConnectedReplicas: 2, Offset: 1000, HoldsData: holdData)
            : new PeerAnswer(p, PeerRole.Replica, Offset: 1000, ReplicaOf: master, HoldsData: holdData);
}

/// <summary>
/// A <see cref="FakeTimeProvider"/> that knows when the code under test waits on it: <see cref="RunAsync{T}"/>
/// starts the work and, each time it blocks on a new timer (Task.Delay), advances the clock by exactly that
/// timer's due time. Virtual time passes only while the code waits, so round counts are deterministic.
/// </summary>
public sealed class SteppingClock : FakeTimeProvider
{
    readonly ConcurrentQueue<TimeSpan> dueTimes = new();
    int created;

    public int TimersCreated => Volatile.Read(ref created);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        dueTimes.Enqueue(dueTime);
        Interlocked.Increment(ref created);
        return timer;
    }

    /// <summary>Runs <paramref name="start"/> to completion, firing at most <paramref name="maxTimers"/> timers.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> start, int maxTimers = 1000)
    {
        var task = start();
        var fired = 0;
        while (!task.IsCompleted)
        {
            // The code under test may continue on another thread: wait (really) until it completes or waits on a timer.
            if (!SpinWait.SpinUntil(() => task.IsCompleted || TimersCreated > fired, TimeSpan.FromSeconds(10)))
                throw new TimeoutException("the code under test neither completed nor waited on the clock within 10 s");
            if (task.IsCompleted) break;
            if (++fired > maxTimers) throw new InvalidOperationException($"more than {maxTimers} timers: the code under test does not stop waiting");
            Assert.True(dueTimes.TryDequeue(out var due));
            Advance(due == Timeout.InfiniteTimeSpan ? TimeSpan.Zero : due);
        }
        return await task;
    }

    public TimeSpan Elapsed(DateTimeOffset since) => GetUtcNow() - since;
}
