using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;
using RedisSidecars.UnitTests.Core;
using Xunit;

namespace RedisSidecars.UnitTests.Sidecar;

/// <summary>Sidecar settings built the way the program builds them: through <see cref="SidecarSettingsValidator.Validate"/>.</summary>
public static class SidecarSettingsBuilder
{
    public static (SidecarSettings? Settings, IReadOnlyList<string> Errors) Validate(
        int ordinal = 0, Action<SidecarRawOptions>? side = null, Action<RawOptions>? raw = null, ISettingsFiles? files = null)
    {
        var options = new SidecarRawOptions();
        side?.Invoke(options);
        return SidecarSettingsValidator.Validate(SettingsBuilder.Raw($"redis-{ordinal}", raw), options, NodeMode.Redis, files ?? new FakeSettingsFiles());
    }

    public static SidecarSettings Valid(int ordinal = 0, Action<SidecarRawOptions>? side = null, Action<RawOptions>? raw = null, ISettingsFiles? files = null)
    {
        var (settings, errors) = Validate(ordinal, side, raw, files);
        Assert.True(settings is not null, "expected valid sidecar settings, got: " + SettingsValidator.OneLine(errors));
        Assert.Empty(errors);
        return settings;
    }

    public static IReadOnlyList<string> Errors(int ordinal = 0, Action<SidecarRawOptions>? side = null, Action<RawOptions>? raw = null, ISettingsFiles? files = null)
    {
        var (settings, errors) = Validate(ordinal, side, raw, files);
        Assert.Null(settings);
        Assert.NotEmpty(errors);
        return errors;
    }
}

/// <summary>The three Redis pods and three Sentinels of <see cref="Topology"/>, as the sidecar of redis-0 sees them.</summary>
public static class Nodes
{
    public static readonly NodeAddress Me = Topology.RedisNode(0);      // redis-0
    public static readonly NodeAddress Other = Topology.RedisNode(1);   // redis-1
    public static readonly NodeAddress Third = Topology.RedisNode(2);   // redis-2
    public static readonly NodeAddress[] Sentinels = [Topology.SentinelNode(0), Topology.SentinelNode(1), Topology.SentinelNode(2)];

    public static SentinelAnswer Says(int sentinel, NodeAddress master, long epoch) => new(Sentinels[sentinel], master, false, null, epoch);
    public static SentinelAnswer Down(int sentinel) => SentinelAnswer.Failed(Sentinels[sentinel], "connection refused");

    /// <summary>All three Sentinels name <paramref name="master"/> with <paramref name="epoch"/>.</summary>
    public static SentinelAnswer[] AllSay(NodeAddress master, long epoch) => [Says(0, master, epoch), Says(1, master, epoch), Says(2, master, epoch)];
    public static SentinelAnswer[] NoneAnswer() => [Down(0), Down(1), Down(2)];

    public static LocalRedisState LocalMaster(long offset = 100) => new(LocalRole.Master, Offset: offset);
    public static LocalRedisState ReplicaOf(NodeAddress master, bool linkUp = true) => new(LocalRole.Replica, master, LinkUp: linkUp);
}

/// <summary>Every call to the fakes, in order, shared by all ports so a test can assert the order across them.</summary>
public sealed class CallJournal
{
    readonly ConcurrentQueue<string> calls = new();

    public void Add(string call) => calls.Enqueue(call);
    public IReadOnlyList<string> All => calls.ToArray();
    /// <summary>Only the calls that change something (no reads, no polls).</summary>
    public IReadOnlyList<string> Writes => All.Where(c => !c.StartsWith("read", StringComparison.Ordinal) && c != "sentinel.poll").ToArray();
    public int Count(string call) => All.Count(c => c == call);
    public int IndexOf(string call) => All.ToList().IndexOf(call);
    public int LastIndexOf(string call) => All.ToList().LastIndexOf(call);

    /// <summary>Asserts that <paramref name="expected"/> occur in this order (other calls may sit in between).</summary>
    public void AssertSubsequence(params string[] expected)
    {
        var all = All;
        var at = 0;
        foreach (var e in expected)
        {
            while (at < all.Count && all[at] != e) at++;
            Assert.True(at < all.Count, $"expected '{e}' after the previous expected call; calls were:\n  " + string.Join("\n  ", all));
            at++;
        }
    }

    public override string ToString() => string.Join(" | ", All);
}

/// <summary>
/// A pod in memory: labels and the readiness condition change when the sidecar patches them, and can be
/// changed "behind its back" by the test (a hand edit). Peers' labels come from <see cref="PeerLabel"/>.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakePodWriter(CallJournal journal, string labelName = "redis-role") : IPodWriter
{
    readonly object gate = new();
    readonly Dictionary<string, string> labels = new(StringComparer.Ordinal);

    public bool DeclaresReadinessGate { get; set; } = true;
    public bool? ConditionTrue { get; set; }
    /// <summary>(peer pod name, read count so far for that peer) → its role label.</summary>
    public Func<string, int, string?> PeerLabel { get; set; } = (_, _) => null;
    /// <summary>Runs inside <see cref="SetRoleLabelAsync"/> before the label changes (e.g. to look at the worker's state).</summary>
    public Action<string?>? OnSetLabel { get; set; }
    public List<(string Type, string Reason, string Message)> Events { get; } = [];
    readonly Dictionary<string, int> peerReads = new(StringComparer.Ordinal);

    public string? Label
    {
        get { lock (gate) return labels.TryGetValue(labelName, out var v) ? v : null; }
        set { lock (gate) { if (value is null) labels.Remove(labelName); else labels[labelName] = value; } }
    }

    public Task<PodSnapshot> ReadOwnPodAsync(CancellationToken ct)
    {
        journal.Add("read.pod");
        lock (gate) return Task.FromResult(new PodSnapshot(new Dictionary<string, string>(labels), DeclaresReadinessGate, ConditionTrue, "uid-0"));
    }

    public Task<string?> ReadPeerLabelAsync(string podName, CancellationToken ct)
    {
        int n;
        lock (gate) { n = peerReads.GetValueOrDefault(podName); peerReads[podName] = n + 1; }
        var value = PeerLabel(podName, n);
        journal.Add($"read.peer {podName}={value ?? "(none)"}");
        return Task.FromResult(value);
    }

    public Task SetRoleLabelAsync(string? value, CancellationToken ct)
    {
        journal.Add($"pod.label {value ?? "(none)"}");
        OnSetLabel?.Invoke(value);
        Label = value;
        return Task.CompletedTask;
    }

    public Task SetReadinessConditionAsync(bool ready, string reason, string message, CancellationToken ct)
    {
        journal.Add($"pod.condition {(ready ? "True" : "False")}");
        ConditionTrue = ready;
        return Task.CompletedTask;
    }

    public Task RecordEventAsync(string type, string reason, string message, CancellationToken ct)
    {
        journal.Add($"pod.event {type} {reason}");
        lock (gate) Events.Add((type, reason, message));
        return Task.CompletedTask;
    }
}

/// <summary>The local Redis in memory. <see cref="Replication"/> gets the call number (0 = first call).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakeLocalRedis(CallJournal journal) : ILocalRedis
{
    int replicationCalls;

    public LocalRedisState State { get; set; } = Nodes.LocalMaster();
    public Func<int, ReplicationInfo> Replication { get; set; } = _ => new ReplicationInfo(100, []);

    public Task<LocalRedisState> ReadStateAsync(CancellationToken ct)
    {
        journal.Add("read.redis.state");
        return Task.FromResult(State);
    }

    public Task<ReplicationInfo> ReadReplicationAsync(CancellationToken ct)
    {
        journal.Add("read.redis.replication");
        return Task.FromResult(Replication(Interlocked.Increment(ref replicationCalls) - 1));
    }

    public Task KillNormalClientsAsync(CancellationToken ct)
    {
        journal.Add("redis.kill");
        return Task.CompletedTask;
    }

    public Task PauseWritesAsync(TimeSpan duration, CancellationToken ct)
    {
        journal.Add("redis.pause");
        PausedFor = duration;
        return Task.CompletedTask;
    }

    public TimeSpan? PausedFor { get; private set; }

    public Task UnpauseAsync(CancellationToken ct)
    {
        journal.Add("redis.unpause");
        return Task.CompletedTask;
    }

    /// <summary>Records the call and turns this node into a replica of <paramref name="master"/>, as Redis would.</summary>
    public Task ReplicateAsync(NodeAddress master, CancellationToken ct)
    {
        journal.Add($"redis.replicate {master}");
        State = Nodes.ReplicaOf(master);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>A master at <paramref name="masterOffset"/> with one online replica (redis-1) at <paramref name="replicaOffset"/>.</summary>
    public static ReplicationInfo OneReplica(long masterOffset, long replicaOffset) => new(masterOffset, [(Nodes.Other, replicaOffset)]);
}

/// <summary>The Sentinels in memory: <see cref="Answers"/> is what every poll returns.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakeSentinelWatcher(CallJournal journal) : ISentinelWatcher
{
    public Func<IReadOnlyList<SentinelAnswer>> Answers { get; set; } = Nodes.NoneAnswer;
    /// <summary>What SENTINEL FAILOVER does: the accepting Sentinel's name, or null when all refuse.</summary>
    public Func<CancellationToken, Task<string?>> Failover { get; set; } = _ => Task.FromResult<string?>(null);
    public int FailoverCalls => Volatile.Read(ref failoverCalls);
    int failoverCalls;

    public Task StartAsync(Func<SwitchEvent, Task> onSwitch, Action onOtherEvent, CancellationToken ct) => Task.CompletedTask;

    public Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct)
    {
        journal.Add("sentinel.poll");
        return Task.FromResult(Answers());
    }

    public Task<string?> FailoverAsync(CancellationToken ct)
    {
        journal.Add("sentinel.failover");
        Interlocked.Increment(ref failoverCalls);
        return Failover(ct);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A reconcile worker for redis-0 over the three fakes, with metrics and a fake clock.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WorkerRig
{
    public WorkerRig(Action<SidecarRawOptions>? side = null, FakeTimeProvider? clock = null)
    {
        Settings = SidecarSettingsBuilder.Valid(0, side);
        Clock = clock ?? new FakeTimeProvider();
        Pod = new FakePodWriter(Journal, Settings.LabelName);
        Redis = new FakeLocalRedis(Journal);
        Sentinels = new FakeSentinelWatcher(Journal);
        Worker = new ReconcileWorker(Settings, Sentinels, Redis, Pod, Metrics, NullLogger.Instance, Clock);
    }

    public SidecarSettings Settings { get; }
    public FakeTimeProvider Clock { get; }
    public CallJournal Journal { get; } = new();
    public FakePodWriter Pod { get; }
    public FakeLocalRedis Redis { get; }
    public FakeSentinelWatcher Sentinels { get; }
    public SidecarMetrics Metrics { get; } = new();
    public ReconcileWorker Worker { get; }

    public HandoverCoordinator Coordinator() =>
        new(Settings, Worker, Redis, Sentinels, Metrics, NullLogger.Instance, Clock);

    /// <summary>One tick that must not wait on the clock.</summary>
    public async Task TickAsync()
    {
        var tick = Worker.RunOnceAsync(CancellationToken.None);
        Assert.True(await Task.WhenAny(tick, Task.Delay(TimeSpan.FromSeconds(10))) == tick, "RunOnceAsync blocked; calls: " + Journal);
        await tick;
    }

    /// <summary>Makes redis-0 the labelled, ready master that the Sentinels (epoch <paramref name="epoch"/>) agree on.</summary>
    public async Task BecomeMasterAsync(long epoch = 1)
    {
        Sentinels.Answers = () => Nodes.AllSay(Nodes.Me, epoch);
        Redis.State = Nodes.LocalMaster();
        await TickAsync();
        Assert.Equal(Settings.MasterLabelValue, Pod.Label);
        Assert.True(Worker.Ready);
    }
}
