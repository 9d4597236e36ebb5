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
using RedisSidecars.Sidecar.Telemetry;

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

    public static bool IsMe(NodeAddress node) => node.Equals(Me);

    public static SentinelAnswer Says(int sentinel, NodeAddress master, long epoch, bool failover = false) => new(Sentinels[sentinel], master, failover, null, epoch);
    public static SentinelAnswer Down(int sentinel) => SentinelAnswer.Failed(Sentinels[sentinel], "connection refused");

    /// <summary>All three Sentinels name <paramref name="master"/> with <paramref name="epoch"/>.</summary>
    public static SentinelAnswer[] AllSay(NodeAddress master, long epoch) => [Says(0, master, epoch), Says(1, master, epoch), Says(2, master, epoch)];
    public static SentinelAnswer[] NoneAnswer() => [Down(0), Down(1), Down(2)];

    public static SentinelView View(NodeAddress? master, long epoch = 1, bool lost = false, bool failover = false, string source = "poll", NodeAddress? promoting = null) =>
        new(master, epoch, source, lost, lost ? 0 : 3, 3, failover || promoting is not null, promoting);

    /// <summary>A master at <paramref name="offset"/> with redis-1 attached in <paramref name="state"/> at <paramref name="replicaOffset"/>.</summary>
    public static LocalRedisState MasterWithReplica(long offset = 100, long replicaOffset = 100, string state = "online") =>
        new(LocalRole.Master, Offset: offset, Replicas: [new ReplicaLink(Other, state, replicaOffset, 0)]);

    /// <summary>A row of SENTINEL REPLICAS: a replica of redis-0 with the replica-priority Sentinel last read and its flags.</summary>
    public static SentinelEntry Row(NodeAddress replica, int? priority = 100, string flags = "slave", bool linkOk = true) =>
        new(replica, flags.Split(','), "", 0, Me, linkOk, priority);

    public static LocalRedisState LonelyMaster(long offset = 100) => new(LocalRole.Master, Offset: offset, Replicas: []);

    public static LocalRedisState ReplicaOf(NodeAddress master, bool linkUp = true, bool syncing = false, bool loading = false, int? priority = 100) =>
        new(LocalRole.Replica, master, LinkUp: linkUp, Syncing: syncing, Loading: loading, ReplicaPriority: priority);

    public static readonly LocalRedisState Unreachable = LocalRedisState.Unreachable("connection refused");
}

/// <summary>Every call to the fakes, in order, shared by all ports so a test can assert the order across them.</summary>
public sealed class CallJournal
{
    readonly ConcurrentQueue<string> calls = new();

    public void Add(string call) => calls.Enqueue(call);
    public IReadOnlyList<string> All => calls.ToArray();
    /// <summary>Only the calls that change something (no reads, polls or probes).</summary>
    public IReadOnlyList<string> Writes => All.Where(c => !c.StartsWith("read", StringComparison.Ordinal) && !c.StartsWith("sentinel.poll", StringComparison.Ordinal)
                                                           && !c.StartsWith("sentinel.probe", StringComparison.Ordinal)).ToArray();
    public IReadOnlyList<string> Starting(string prefix) => All.Where(c => c.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
    public int Count(string call) => All.Count(c => c == call);
    public int CountStarting(string prefix) => All.Count(c => c.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Asserts that <paramref name="expected"/> occur in this order (other calls may sit in between).</summary>
    public void AssertSubsequence(params string[] expected)
    {
        var all = All;
        var at = 0;
        foreach (var e in expected)
        {
            while (at < all.Count && all[at] != e) at++;
            Assert.True(at < all.Count, $"expected '{e}' after the previous expected call; calls were: {this}");
            at++;
        }
    }

    /// <summary>The calls for a failure message (the last 60 when there are more).</summary>
    public override string ToString()
    {
        var all = All;
        return all.Count <= 60 ? string.Join(" | ", all) : $"({all.Count} calls, the last 60:) " + string.Join(" | ", all.TakeLast(60));
    }
}

/// <summary>
/// A <see cref="FakeTimeProvider"/> that counts its timers: created, fired, and armed now (created with a due time, not
/// yet fired or disposed). Code that waits on this clock has a timer armed; code that runs (on another thread) may not,
/// so a test that advances the clock can tell when to let it get to its next wait first.
/// </summary>
public sealed class CountingClock : FakeTimeProvider
{
    int created;
    int fired;
    int armed;

    public int TimersCreated => Volatile.Read(ref created);
    public int TimersFired => Volatile.Read(ref fired);
    public int TimersArmed => Volatile.Read(ref armed);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new TrackedTimer(this);
        tracked.Inner = base.CreateTimer(s => { Interlocked.Increment(ref fired); tracked.Fired(); callback(s); }, state, dueTime, period);
        tracked.Arm(dueTime, period);
        Interlocked.Increment(ref created);
        return tracked;
    }

    /// <summary>Runs <paramref name="change"/> once, when the clock reaches now + <paramref name="after"/> (not counted as armed: it is the test's script).</summary>
    public void At(TimeSpan after, Action change)
    {
        ITimer? timer = null;
        timer = base.CreateTimer(_ => { change(); timer?.Dispose(); }, null, after, Timeout.InfiniteTimeSpan);
    }

    sealed class TrackedTimer(CountingClock clock) : ITimer
    {
        readonly object gate = new();
        bool armed;
        bool periodic;
        public ITimer Inner { get; set; } = null!;

        public void Arm(TimeSpan due, TimeSpan period)
        {
            lock (gate)
            {
                Disarm();
                periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
                if (due == Timeout.InfiniteTimeSpan) return;
                armed = true;
                Interlocked.Increment(ref clock.armed);
            }
        }

        public void Fired()
        {
            lock (gate) if (!periodic) Disarm();
        }

        void Disarm()
        {
            if (!armed) return;
            armed = false;
            Interlocked.Decrement(ref clock.armed);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Arm(dueTime, period);
            return Inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (gate) Disarm();
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>One Sentinel as <see cref="FakeSentinels"/> answers for it.</summary>
public sealed record FakeSentinel(NodeAddress? Master, long Epoch, bool Tilt = false, bool FailoverInProgress = false, string? Error = null)
{
    public static FakeSentinel Unreachable(string error = "connection refused") => new(null, 0, Error: error);
}

/// <summary>
/// The Sentinels in memory: one <see cref="FakeSentinel"/> state per configured Sentinel, read by every poll and probe.
/// SENTINEL FAILOVER is accepted by default and, as on a real Sentinel, sets that Sentinel's failover flag.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakeSentinels(CallJournal journal) : ISentinels
{
    readonly object gate = new();
    readonly FakeSentinel[] states = Nodes.Sentinels.Select(_ => FakeSentinel.Unreachable()).ToArray();

    /// <summary>What SENTINEL FAILOVER answers (given the Sentinel's index); default: accepted.</summary>
    public Func<int, (FailoverAnswer Answer, string Detail)> OnFailover { get; set; } = _ => (FailoverAnswer.Accepted, "OK");
    /// <summary>A fault the real watcher never raises (it turns every fault into an answer): to test that the loop does not swallow bugs.</summary>
    public Exception? PollThrows { get; set; }
    public int Polls => journal.Count("sentinel.poll");

    public FakeSentinel this[int i]
    {
        get { lock (gate) return states[i]; }
        set { lock (gate) states[i] = value; }
    }

    public void SetAll(NodeAddress master, long epoch)
    {
        lock (gate) for (var i = 0; i < states.Length; i++) states[i] = new FakeSentinel(master, epoch);
    }

    public void Update(int i, Func<FakeSentinel, FakeSentinel> change)
    {
        lock (gate) states[i] = change(states[i]);
    }

    public Task StartAsync(Func<FailoverSignal, Task> onSignal, Action<PromotionStarted> onPromotion, Action onOtherEvent,
        Action<string, NodeAddress> onInstanceEvent, CancellationToken ct) => Task.CompletedTask;

    /// <summary>When set, a poll answers only once this task completes (with the states as they are then): a slow Sentinel.</summary>
    public Task? PollHeldUntil { get; set; }

    public Task<IReadOnlyList<SentinelAnswer>> PollAsync(CancellationToken ct)
    {
        journal.Add("sentinel.poll");
        if (PollThrows is { } e) throw e;
        if (PollHeldUntil is { IsCompleted: false } held) return AnswerLaterAsync(held);
        lock (gate) return Task.FromResult<IReadOnlyList<SentinelAnswer>>(states.Select((s, i) => Answer(i, s)).ToArray());
    }

    async Task<IReadOnlyList<SentinelAnswer>> AnswerLaterAsync(Task held)
    {
        await held.ConfigureAwait(false);
        lock (gate) return states.Select((s, i) => Answer(i, s)).ToArray();
    }

    public Task<IReadOnlyList<SentinelProbe>> ProbeAllAsync(CancellationToken ct)
    {
        journal.Add("sentinel.probe-all");
        lock (gate) return Task.FromResult<IReadOnlyList<SentinelProbe>>(states.Select((s, i) => Probe(i, s, withTilt: true)).ToArray());
    }

    public Task<SentinelProbe> ProbeAsync(NodeAddress sentinel, CancellationToken ct)
    {
        var i = Array.IndexOf(Nodes.Sentinels, sentinel);
        journal.Add($"sentinel.probe {i}");
        lock (gate) return Task.FromResult(Probe(i, states[i], withTilt: false));
    }

    public Task<(FailoverAnswer Answer, string Detail)> FailoverAsync(NodeAddress sentinel, CancellationToken ct)
    {
        var i = Array.IndexOf(Nodes.Sentinels, sentinel);
        journal.Add($"sentinel.failover {i}");
        var answer = OnFailover(i);
        if (answer.Answer == FailoverAnswer.Accepted) Update(i, s => s with { FailoverInProgress = true });
        return Task.FromResult(answer);
    }

    /// <summary>What SENTINEL REPLICAS answers (<see cref="Nodes.Row"/>); empty by default.</summary>
    public Func<IReadOnlyList<SentinelEntry>?> Replicas { get; set; } = () => [];

    public Task<IReadOnlyList<SentinelEntry>?> ReplicasAsync(NodeAddress sentinel, CancellationToken ct)
    {
        journal.Add($"sentinel.replicas {Array.IndexOf(Nodes.Sentinels, sentinel)}");
        return Task.FromResult(Replicas());
    }

    /// <summary>Sentinel <paramref name="by"/> promoted <paramref name="master"/> (its get-master-addr-by-name names it at once).</summary>
    public void Promote(int by, NodeAddress master, long epoch) => Update(by, s => s with { Master = master, Epoch = epoch });

    /// <summary>Sentinel <paramref name="by"/> gave the failover up: it names the old master and has no failover in progress.</summary>
    public void Abort(int by) => Update(by, s => s with { FailoverInProgress = false });

    static SentinelAnswer Answer(int i, FakeSentinel s) =>
        s.Error is { } e ? SentinelAnswer.Failed(Nodes.Sentinels[i], e) : new SentinelAnswer(Nodes.Sentinels[i], s.Master, s.FailoverInProgress, null, s.Epoch);

    // As the real watcher: ProbeAsync does not ask for INFO sentinel, so it never reports TILT.
    static SentinelProbe Probe(int i, FakeSentinel s, bool withTilt) =>
        new(Nodes.Sentinels[i], s.Error, s.Error is null ? s.Master : null, s.Epoch, withTilt && s.Error is null && s.Tilt, s.Error is null && s.FailoverInProgress);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// The local Redis in memory. REPLICAOF and CONFIG SET replica-priority change <see cref="State"/> as Redis would;
/// CLIENT PAUSE lasts its duration on the fake clock, so a test can see whether writes stayed paused.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakeLocalRedis(CallJournal journal, TimeProvider clock) : ILocalRedis
{
    readonly object gate = new();
    LocalRedisState state = Nodes.MasterWithReplica();
    DateTimeOffset? pausedUntil;

    public LocalRedisState State
    {
        get { lock (gate) return state; }
        set { lock (gate) state = value; }
    }

    /// <summary>Command name ("pause", "unpause", "replicaof", "kill", "priority") → a fault to raise as a <see cref="LocalRedisException"/>.</summary>
    public Func<string, string?> Fails { get; set; } = _ => null;
    /// <summary>A fault the real client never raises from a read (it returns an unreachable state instead).</summary>
    public Exception? ReadThrows { get; set; }

    public int Pauses => journal.Count("redis.pause");
    /// <summary>Times a pause lapsed (expired before it was renewed or lifted).</summary>
    public int Lapses { get; private set; }
    public bool Paused { get { lock (gate) return pausedUntil > clock.GetUtcNow(); } }
    /// <summary>A pause ran out without being renewed or lifted (writes resumed by themselves).</summary>
    public bool Lapsed { get { lock (gate) return pausedUntil <= clock.GetUtcNow(); } }

    public Task<LocalRedisState> ReadStateAsync(CancellationToken ct)
    {
        journal.Add("read.redis");
        if (ReadThrows is { } e) throw e;
        return Task.FromResult(State);
    }

    public Task KillNormalClientsAsync(CancellationToken ct) => Run("kill", "redis.kill", () => { });

    /// <summary>Called on every CLIENT PAUSE that succeeds.</summary>
    public Action? OnPause { get; set; }

    public Task PauseWritesAsync(TimeSpan duration, CancellationToken ct) => Run("pause", "redis.pause", () =>
    {
        OnPause?.Invoke();
        var now = clock.GetUtcNow();
        if (pausedUntil is { } until && until <= now) Lapses++;
        pausedUntil = now + duration;
    });

    public Task UnpauseAsync(CancellationToken ct) => Run("unpause", "redis.unpause", () =>
    {
        if (pausedUntil is { } until && until <= clock.GetUtcNow()) Lapses++;
        pausedUntil = null;
    });

    public Task ReplicateAsync(NodeAddress master, CancellationToken ct) =>
        Run("replicaof", $"redis.replicaof {master}", () => state = Nodes.ReplicaOf(master, priority: state.ReplicaPriority ?? 100));

    public Task SetReplicaPriorityAsync(int priority, CancellationToken ct) =>
        Run("priority", $"redis.priority {priority}", () => state = state with { ReplicaPriority = priority });

    /// <summary>min-replicas-to-write as last set (the fence).</summary>
    public int MinReplicasToWrite { get; private set; }
    public int MinReplicasMaxLag { get; private set; } = 10;

    public Task SetWriteQuorumAsync(int minReplicas, int maxLagSeconds, CancellationToken ct) =>
        Run("quorum", $"redis.quorum {minReplicas} {maxLagSeconds}", () => { MinReplicasToWrite = minReplicas; MinReplicasMaxLag = maxLagSeconds; });

    public async Task<int> ReadMinReplicasToWriteAsync(CancellationToken ct)
    {
        await Run("config-get", "redis.config-get min-replicas-to-write", () => { });
        return MinReplicasToWrite;
    }

    /// <summary>What the other Redis pods answer when asked for their own offset (<see cref="IReplicaOffsets"/>).</summary>
    public IReadOnlyList<long> ReplicaOffsets
    {
        get { lock (gate) return replicaOffsets; }
        set { lock (gate) replicaOffsets = value; }
    }
    IReadOnlyList<long> replicaOffsets = [];

    public Task<IReplicaOffsets> ConnectReplicasAsync()
    {
        journal.Add("redis.connect-replicas");
        return Task.FromResult<IReplicaOffsets>(new Offsets(this));
    }

    sealed class Offsets(FakeLocalRedis redis) : IReplicaOffsets
    {
        public Task<IReadOnlyList<long>> ReadOffsetsAsync(CancellationToken ct) => Task.FromResult(redis.ReplicaOffsets);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    Task Run(string command, string entry, Action effect)
    {
        journal.Add(entry);
        if (Fails(command) is { } error) throw new LocalRedisException($"{command}: {error}");
        lock (gate) effect();
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// The watch cache in memory. Every change bumps the version and wakes the waiters, as the real cache does; it counts
/// the waits, so a test knows when the code under test is waiting again.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakeKubeFacts : IKubeFacts
{
    readonly object gate = new();
    KubeFacts current;
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int waits;

    public FakeKubeFacts(KubeFacts initial) => current = initial;

    public KubeFacts Current { get { lock (gate) return current; } }
    /// <summary>When the watch last answered (0 = never: the applier reads the API before taking the master label).</summary>
    public long HeardAt { get; set; }
    /// <summary>Calls of <see cref="WaitForChangeAsync"/> so far that waited (the cache had not changed since <c>version</c>).</summary>
    public int Waits => Volatile.Read(ref waits);

    public void Update(Func<KubeFacts, KubeFacts> change)
    {
        TaskCompletionSource wake;
        lock (gate)
        {
            current = change(current) with { Version = current.Version + 1 };
            wake = changed;
            changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
    }

    public void UpdateOwn(Func<PodFacts, PodFacts> change) => Update(f => f with { Own = change(f.Own!) });

    public void SetPeerLabel(string peer, string? label, string labelName = "redis-role") => Update(f => f with
    {
        Peers = f.Peers.Select(p => p.Name == peer ? p with { Labels = Labels(labelName, label) } : p).ToArray(),
    });

    public async Task WaitForChangeAsync(long version, CancellationToken ct)
    {
        Task wait;
        lock (gate)
        {
            if (current.Version > version) return;
            wait = changed.Task;
        }
        Interlocked.Increment(ref waits);
        await wait.WaitAsync(ct).ConfigureAwait(false);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    public static IReadOnlyDictionary<string, string> Labels(string name, string? value) =>
        value is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [name] = value };

    public static PodFacts Pod(string name, string? label, bool gate = true, bool? condition = null, string? revision = "rev-1", string labelName = "redis-role") =>
        new(name, $"uid-{name}", Labels(labelName, label), gate, condition, revision, false);

    /// <summary>redis-0 (this pod) and its two peers, synced and live, at update revision rev-1.</summary>
    public static KubeFacts Set(string? ownLabel, bool? ownCondition, string? peer1 = "replica", string? peer2 = "replica", bool gate = true) =>
        new(true, Pod("redis-0", ownLabel, gate, ownCondition), [Pod("redis-1", peer1), Pod("redis-2", peer2)], "rev-1", 1);
}

/// <summary>
/// The API in memory: the label and condition writes change the <see cref="FakeKubeFacts"/> (as the watch would show
/// them) unless <see cref="ReflectWrites"/> is off. <see cref="Before"/> can make a call hang or fail.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FakePodClient(CallJournal journal, FakeKubeFacts kube, TimeProvider clock, string labelName = "redis-role") : IPodClient
{
    readonly ConcurrentQueue<(string Type, string Reason, string Message)> events = new();
    readonly ConcurrentQueue<(string Call, DateTimeOffset At)> writes = new();

    public bool ReflectWrites { get; set; } = true;
    /// <summary>Runs first in every call (given its journal entry): return a task to wait on, or throw.</summary>
    public Func<string, CancellationToken, Task> Before { get; set; } = (_, _) => Task.CompletedTask;
    public IReadOnlyList<(string Type, string Reason, string Message)> Events => events.ToArray();
    /// <summary>Label and condition writes with the fake clock's time when they were made.</summary>
    public IReadOnlyList<(string Call, DateTimeOffset At)> Writes => writes.ToArray();

    /// <summary>What a fresh read returns (null: the fake cache's view).</summary>
    public Func<string, string?>? PeerLabelNow { get; set; }

    public async Task<IReadOnlyDictionary<string, string?>> ReadPeerLabelsNowAsync(CancellationToken ct)
    {
        await Call("read.api.peers", ct).ConfigureAwait(false);
        return kube.Current.Peers.ToDictionary(p => p.Name, p => PeerLabelNow is { } now ? now(p.Name) : p.Labels.GetValueOrDefault(labelName), StringComparer.Ordinal);
    }

    public async Task SetRoleLabelAsync(string? value, CancellationToken ct)
    {
        var entry = $"api.label {value ?? "(none)"}";
        await Call(entry, ct).ConfigureAwait(false);
        writes.Enqueue((entry, clock.GetUtcNow()));
        if (ReflectWrites) kube.UpdateOwn(p => p with { Labels = FakeKubeFacts.Labels(labelName, value) });
    }

    public async Task SetReadinessConditionAsync(bool ready, string reason, string message, CancellationToken ct)
    {
        var entry = $"api.condition {(ready ? "True" : "False")}";
        await Call(entry, ct).ConfigureAwait(false);
        writes.Enqueue((entry, clock.GetUtcNow()));
        if (ReflectWrites) kube.UpdateOwn(p => p with { ConditionTrue = ready });
    }

    public async Task RecordEventAsync(string type, string reason, string message, CancellationToken ct)
    {
        events.Enqueue((type, reason, message));
        await Call($"api.event {type} {reason}", ct).ConfigureAwait(false);
    }

    Task Call(string entry, CancellationToken ct)
    {
        journal.Add(entry);
        return Before(entry, ct);
    }

    /// <summary>A call that never answers (until cancelled).</summary>
    public static Task Hang(CancellationToken ct) => Task.Delay(Timeout.Infinite, ct);
}

/// <summary>redis-0's sidecar over the four fakes, with metrics and a fake clock.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SidecarRig
{
    /// <summary>The virtual time one <see cref="DriveAsync{T}"/> step advances.</summary>
    public static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);

    public SidecarRig(Action<SidecarRawOptions>? side = null, KubeFacts? facts = null)
    {
        Settings = SidecarSettingsBuilder.Valid(0, side);
        Kube = new FakeKubeFacts(facts ?? FakeKubeFacts.Set("master", true));
        Pods = new FakePodClient(Journal, Kube, Clock, Settings.LabelName);
        Redis = new FakeLocalRedis(Journal, Clock);
        Sentinels = new FakeSentinels(Journal);
        Applier = new PodStateApplier(Settings, Kube, Pods, Metrics, NullLogger.Instance, Clock);
        Worker = new ReconcileWorker(Settings, Sentinels, Redis, Kube, Applier, Metrics, NullLogger.Instance, Clock);
    }

    public SidecarSettings Settings { get; }
    public CountingClock Clock { get; } = new();
    public CallJournal Journal { get; } = new();
    public FakeKubeFacts Kube { get; }
    public FakePodClient Pods { get; }
    public FakeLocalRedis Redis { get; }
    public FakeSentinels Sentinels { get; }
    public SidecarMetrics Metrics { get; } = new();
    public PodStateApplier Applier { get; }
    public ReconcileWorker Worker { get; }

    /// <summary>What the handover logged (<see cref="Coordinator"/>).</summary>
    public Kubernetes.RecordingLogger Logger { get; } = new();

    public HandoverCoordinator Coordinator() => new(Settings, Worker, Redis, Sentinels, Pods, Metrics, Logger, Clock);

    /// <summary>One reconcile. The fakes answer at once, so a tick that does not complete at once waited on something else.</summary>
    public void Tick()
    {
        var tick = Worker.RunOnceAsync(CancellationToken.None);
        Assert.True(tick.IsCompleted, "RunOnceAsync waited on something; calls: " + Journal);
        tick.GetAwaiter().GetResult();
    }

    /// <summary>redis-0 is the master every Sentinel names (epoch <paramref name="epoch"/>), labelled, ready, with redis-1 online.</summary>
    public void BecomeMaster(long epoch = 1)
    {
        Sentinels.SetAll(Nodes.Me, epoch);
        Redis.State = Nodes.MasterWithReplica();
        Tick();
        Assert.True(Worker.Ready, "expected a ready master; calls: " + Journal);
    }

    /// <summary>
    /// Advances the fake clock in <see cref="Step"/>s until <paramref name="task"/> completes (at most <paramref name="max"/>
    /// of virtual time). The fakes answer at once, so the code under test mostly runs inside each advance; where it
    /// continues on another thread, the clock waits for it. <paramref name="everyStep"/> checks an invariant after each step.
    /// </summary>
    public async Task<T> DriveAsync<T>(Task<T> task, TimeSpan max, Action? everyStep = null)
    {
        await DriveUntilAsync(() => task.IsCompleted, max, everyStep);
        return await task;
    }

    public async Task DriveUntilAsync(Func<bool> done, TimeSpan max, Action? everyStep = null)
    {
        var limit = Clock.GetUtcNow() + max;
        while (!done())
        {
            // No timer armed: the code under test is running (on another thread), not waiting on the clock. Time stands
            // still until it waits again; code that waits on anything else (the API, say) fails here.
            if (Clock.TimersArmed == 0)
            {
                Eventually.Holds(() => done() || Clock.TimersArmed > 0, "the code under test completes or waits on the clock", () => Journal.ToString());
                continue;
            }
            Assert.True(Clock.GetUtcNow() < limit, $"not done within {max.TotalSeconds} s of virtual time; calls: {Journal}");
            Clock.Advance(Step);
            everyStep?.Invoke();
            await Task.Yield();
        }
    }

    /// <summary>Advances the clock by <paramref name="by"/> in <see cref="Step"/>s, checking <paramref name="everyStep"/> after each.</summary>
    public void Advance(TimeSpan by, Action? everyStep = null)
    {
        for (var t = TimeSpan.Zero; t < by; t += Step)
        {
            Clock.Advance(Step);
            everyStep?.Invoke();
        }
    }
}

public static class Eventually
{
    /// <summary>
    /// Waits (really) until <paramref name="condition"/> holds, for code running on other threads. The 10 s bound only
    /// guards against a hang; it is not what the test asserts.
    /// </summary>
    public static void Holds(Func<bool> condition, string what, Func<string>? detail = null)
    {
        if (!SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)))
            Assert.Fail($"never happened: {what}" + (detail is null ? "" : "; " + detail()));
    }
}
