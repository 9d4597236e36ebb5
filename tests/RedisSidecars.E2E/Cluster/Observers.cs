using System.Diagnostics;
using k8s;
using k8s.Autorest;
using k8s.Models;
using RedisSidecars.E2E.Analysis;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E.Cluster;

/// <summary>
/// What the suite records while it disrupts the set, each timed on the suite's monotonic clock: the Redis pods as one
/// watch delivers them (role label, terminating), the master Service's EndpointSlices every 200 ms, and every
/// Sentinel's +switch-master messages (a redis-cli SUBSCRIBE per Sentinel pod through kubectl exec).
/// </summary>
public sealed class Observers(IKubernetes client, DeployedSet set, Kubectl kubectl, Func<TimeSpan> clock) : IAsyncDisposable
{
    public static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(200);
    readonly CancellationTokenSource stop = new();
    readonly List<PodObservation> pods = [];
    readonly List<EndpointSample> samples = [];
    readonly List<(TimeSpan, SwitchMaster)> switches = [];
    readonly List<Process> feeds = [];
    readonly List<Task> loops = [];
    int sampleErrors, watchRestarts;

    public IReadOnlyList<PodObservation> Pods { get { lock (pods) return pods.ToArray(); } }
    public IReadOnlyList<EndpointSample> Samples { get { lock (samples) return samples.ToArray(); } }
    public IReadOnlyList<(TimeSpan At, SwitchMaster Switch)> Switches { get { lock (switches) return switches.ToArray(); } }
    public int SampleErrors => Volatile.Read(ref sampleErrors);
    public int WatchRestarts => Volatile.Read(ref watchRestarts);

    public async Task StartAsync(CancellationToken ct)
    {
        loops.Add(Task.Run(() => WatchPodsAsync(stop.Token), CancellationToken.None));
        loops.Add(Task.Run(() => SampleEndpointsAsync(stop.Token), CancellationToken.None));
        var sentinels = await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.SentinelPodSelector, cancellationToken: ct).ConfigureAwait(false);
        foreach (var p in sentinels.Items)
        {
            var name = p.Metadata.Name;
            feeds.Add(Processes.StartStreaming("kubectl", kubectl.ExecArgs(name, set.Sentinel.Name, Scripts.SwitchMasterFeed(set.Sentinel)), line =>
            {
                if (Replies.SwitchMasterLine(line) is { } s && s.MasterSet == set.MasterSetName)
                    lock (switches) switches.Add((clock(), s));
            }));
        }
    }

    /// <summary>Stops the +switch-master feeds (before a Sentinel pod is deleted on purpose).</summary>
    public void StopFeeds()
    {
        foreach (var f in feeds) Processes.Stop(f);
        feeds.Clear();
    }

    async Task WatchPodsAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var list = await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.RedisPodSelector, cancellationToken: ct).ConfigureAwait(false);
                foreach (var p in list.Items) Record(p, gone: false);
                var watch = client.CoreV1.WatchListNamespacedPodAsync(set.Namespace, labelSelector: set.RedisPodSelector,
                    resourceVersion: list.Metadata.ResourceVersion, timeoutSeconds: 240, cancellationToken: ct);
                await foreach (var (type, pod) in watch.ConfigureAwait(false))
                    if (type is WatchEventType.Added or WatchEventType.Modified or WatchEventType.Deleted) Record(pod, gone: type == WatchEventType.Deleted);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or KubernetesException)
            {
                // Relisted at once: the list records every pod's current state, so nothing is missed for long.
            }
            Interlocked.Increment(ref watchRestarts);
            try { await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }

    void Record(V1Pod p, bool gone)
    {
        var role = p.Metadata.Labels is { } l && l.TryGetValue(set.LabelName, out var v) ? v : null;
        lock (pods) pods.Add(new PodObservation(clock(), p.Metadata.Name, role, p.Metadata.DeletionTimestamp is not null, gone));
    }

    async Task SampleEndpointsAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(SampleEvery);
        do
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(TimeSpan.FromSeconds(2));
                var slices = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync(set.Namespace,
                    labelSelector: $"kubernetes.io/service-name={set.MasterService}", cancellationToken: cts.Token).ConfigureAwait(false);
                var at = clock();
                lock (samples) samples.Add(new EndpointSample(at, ReadyEndpoints(slices.Items)));
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or OperationCanceledException)
            {
                Interlocked.Increment(ref sampleErrors); // a missed sample, not a sample without endpoints
            }
        }
        while (await WaitTickAsync(timer, ct).ConfigureAwait(false));
    }

    static async Task<bool> WaitTickAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>The pods (or addresses) behind ready endpoints, each once (a pod can appear in several slices, e.g. IPv4 and IPv6).
    /// A nil ready condition counts as ready, as the API documents.</summary>
    public static IReadOnlyList<string> ReadyEndpoints(IEnumerable<V1EndpointSlice> slices) =>
        slices.SelectMany(s => s.Endpoints ?? [])
            .Where(e => e.Conditions?.Ready ?? true)
            .Select(e => e.TargetRef?.Name ?? string.Join(",", e.Addresses ?? []))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToArray();

    public async ValueTask DisposeAsync()
    {
        StopFeeds();
        await stop.CancelAsync().ConfigureAwait(false);
        try { await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); }
        catch (TimeoutException) { }
        stop.Dispose();
    }
}
