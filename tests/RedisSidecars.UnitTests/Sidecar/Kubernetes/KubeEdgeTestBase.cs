using RedisSidecars.Core.Settings;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.UnitTests.KubeApiDouble;
using Xunit;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.UnitTests.Sidecar.Kubernetes;

/// <summary>
/// The sidecar's Kubernetes edge against the API double over HTTP: the sidecar's own client (as
/// <see cref="PodClient.CreateClient"/> builds it), settings for pod redis-0 of a 3-pod set, a recording logger.
/// </summary>
public abstract class KubeEdgeTestBase : KubeApiTestBase
{
    protected const string Gate = SidecarDefaults.ReadinessConditionType;
    protected const string Role = SidecarDefaults.MasterLabelName;

    /// <summary>Short timings so outages and recoveries take milliseconds, not minutes.</summary>
    protected static readonly KubeWatchOptions Fast = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
        RequestTimeout = TimeSpan.FromSeconds(3),
        IdleTimeout = TimeSpan.FromSeconds(3),
        MinWatchTimeout = TimeSpan.FromMinutes(10),
        ResyncInterval = TimeSpan.FromMinutes(30),
        ForbiddenRetry = TimeSpan.FromMinutes(30),
    };

    /// <summary>Bookmarks every 300 ms: a healthy watch is never silent for the 3 s idle bound of <see cref="Fast"/>.</summary>
    protected override KubeApiOptions? Options => new() { BookmarkInterval = TimeSpan.FromMilliseconds(300) };

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];

    protected RecordingLogger Logger { get; } = new();

    protected SidecarMetrics Metrics { get; } = new();

    protected SidecarSettings Settings { get; private set; } = null!;

    protected KubeApi Kube { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Settings = SidecarSettingsBuilder.Valid(0, side => side.KubeConfig = KubeconfigPath, raw => raw.PodNamespace = Ns, PhysicalSettingsFiles.Instance);
        Kube = PodClient.CreateClient(Settings);
    }

    public override async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var run in _running)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run); // RunAsync ends only by cancellation
        }

        Kube.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>StatefulSet redis with 3 pods declaring the readiness gate; the set's Role label on none.</summary>
    protected void AddSet() => Api.AddStatefulSet(Ns, "redis", 3, Labels("app=redis"), [Gate]);

    protected KubeFactsWatcher StartWatcher(KubeWatchOptions? options = null)
    {
        var watcher = new KubeFactsWatcher(Kube, Settings, Logger, Metrics, TimeProvider.System, options ?? Fast);
        _running.Add(watcher.RunAsync(_stop.Token));
        return watcher;
    }

    protected PodClient Writer(KubeFactsWatcher? cache = null, PodWriteOptions? options = null) =>
        new(Kube, Settings, Logger, Metrics, TimeProvider.System, cache, options);

    /// <summary>Waits through <see cref="IKubeFacts.WaitForChangeAsync"/> until the facts satisfy <paramref name="condition"/>.</summary>
    protected static async Task<KubeFacts> WaitForAsync(IKubeFacts facts, Func<KubeFacts, bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var current = facts.Current;
            if (condition(current))
            {
                return current;
            }

            try
            {
                await facts.WaitForChangeAsync(current.Version, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                throw new Xunit.Sdk.XunitException($"{what}: not within {Patience.TotalSeconds} s; last facts: {facts.Current}");
            }
        }
    }

    protected static Task<KubeFacts> WaitForSyncAsync(IKubeFacts facts) =>
        WaitForAsync(facts, f => f.Synced && f.Own is not null && f.UpdateRevision is not null, "initial list");

    protected static PodFacts Peer(KubeFacts facts, string name) => facts.Peers.Single(p => p.Name == name);
}
