using System.Globalization;
using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>
/// The sidecar's cache of its StatefulSet's pods and the StatefulSet's update revision: one list + watch for the
/// pods (label <c>statefulset.kubernetes.io/pod-name in (…)</c>) and one for the StatefulSet (by name), each a
/// <see cref="ListWatchLoop{T}"/>. At rest it makes no request beyond its two open watches (reopened every few
/// minutes) and the slow resync. Writes that return a pod (<see cref="Observe"/>) update it at once.
/// </summary>
public sealed class KubeFactsWatcher : IKubeFacts
{
    readonly object gate = new();
    readonly Dictionary<string, (PodFacts Facts, long Rv)> pods = new(StringComparer.Ordinal);
    readonly SidecarSettings settings;
    readonly IReadOnlyList<string> podNames;
    readonly string ownName;
    readonly ListWatchLoop<PodObject> podLoop;
    readonly ListWatchLoop<StatefulSetObject> setLoop;
    readonly TimeProvider time;
    readonly TimeSpan reproveAfter;
    long heardAt;
    bool synced;
    bool live = true;
    string? updateRevision;
    KubeFacts current = KubeFacts.Empty;
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public KubeFactsWatcher(KubeApi client, SidecarSettings settings, ILogger logger, SidecarMetrics metrics, TimeProvider time,
        KubeWatchOptions? options = null, ForbiddenReporter? forbidden = null)
    {
        this.settings = settings;
        this.time = time;
        podNames = settings.PodNames;
        ownName = settings.Common.PodName ?? "";
        var ns = settings.Common.Namespace;
        var setName = StatefulSetPods.StatefulSetName(settings);
        options ??= new KubeWatchOptions();
        reproveAfter = options.ReproveAfter;
        forbidden ??= new ForbiddenReporter(logger);
        podLoop = new ListWatchLoop<PodObject>(
            new ListWatchTarget<PodObject>("pods", "", null, ApiJson.Default.PodObject,
                ct => StatefulSetPods.ListPodsAsync(client, ns, podNames, ct),
                (rv, timeout) => StatefulSetPods.WatchPodsUri(ns, podNames, rv, timeout)),
            new PodSink(this), client, options, time, logger, metrics, forbidden);
        setLoop = new ListWatchLoop<StatefulSetObject>(
            new ListWatchTarget<StatefulSetObject>("statefulsets", "apps", setName, ApiJson.Default.StatefulSetObject,
                ct => StatefulSetPods.ListStatefulSetAsync(client, ns, setName, ct),
                (rv, timeout) => StatefulSetPods.WatchStatefulSetUri(ns, setName, rv, timeout)),
            new SetSink(this, setName), client, options, time, logger, metrics, forbidden);
    }

    /// <summary>Where the pod watch resumes from (tests: proves bookmarks advance it).</summary>
    internal string? PodsResourceVersion => podLoop.ResourceVersion;

    public KubeFacts Current
    {
        get { lock (gate) return current; }
    }

    public long HeardAt => Interlocked.Read(ref heardAt);

    public async Task WaitForChangeAsync(long version, CancellationToken ct)
    {
        while (true)
        {
            Task signal;
            lock (gate)
            {
                if (current.Version > version) return;
                signal = changed.Task;
            }
            await signal.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var pods = podLoop.RunAsync(ct);
        var set = setLoop.RunAsync(ct);
        await Task.WhenAll(pods, set).ConfigureAwait(false);
    }

    public void Reprove(string why)
    {
        podLoop.Reprove(reproveAfter, why);
        setLoop.Reprove(reproveAfter, why);
    }

    /// <summary>A pod the API returned (e.g. a patch's answer): applied when it is newer than the cached one.</summary>
    public void Observe(PodObject pod)
    {
        lock (gate)
        {
            if (Upsert(pod)) Publish();
        }
    }

    // ---------------------------------------------------------------- cache updates (under gate)

    bool Upsert(PodObject pod)
    {
        var name = pod.Metadata?.Name;
        if (name is null || !podNames.Contains(name)) return false;
        var rv = Version(pod.Metadata?.ResourceVersion);
        if (pods.TryGetValue(name, out var cached) && cached.Rv >= rv && rv != long.MaxValue) return false;
        pods[name] = (PodFacts.From(pod, settings.ReadinessConditionType), rv);
        return true;
    }

    bool Remove(PodObject pod, string? eventRv)
    {
        var name = pod.Metadata?.Name;
        if (name is null || !pods.TryGetValue(name, out var cached)) return false;
        if (Version(eventRv) < cached.Rv) return false; // a write we saw already is newer than this deletion
        pods.Remove(name);
        return true;
    }

    void ReplacePods(IReadOnlyList<PodObject> items, string listRv)
    {
        var listed = Version(listRv);
        var fresh = new Dictionary<string, (PodFacts, long)>(StringComparer.Ordinal);
        foreach (var pod in items)
            if (pod.Metadata?.Name is { } name && podNames.Contains(name))
                fresh[name] = (PodFacts.From(pod, settings.ReadinessConditionType), Version(pod.Metadata.ResourceVersion));
        // Keep what a write told us after this list was taken.
        foreach (var (name, cached) in pods)
            if (cached.Rv > listed && cached.Rv != long.MaxValue && (!fresh.TryGetValue(name, out var f) || f.Item2 < cached.Rv))
                fresh[name] = cached;
        pods.Clear();
        foreach (var (name, entry) in fresh) pods[name] = entry;
        synced = true;
    }

    /// <summary>Rebuilds <see cref="Current"/>; bumps the version and wakes waiters only when something changed.</summary>
    void Publish()
    {
        var own = pods.TryGetValue(ownName, out var o) ? o.Facts : null;
        var peers = podNames.Where(n => n != ownName && pods.ContainsKey(n)).Select(n => pods[n].Facts).ToArray();
        var same = current.Synced == synced && current.UpdateRevision == updateRevision && current.Live == live
                   && (own is null ? current.Own is null : own.SameAs(current.Own))
                   && peers.Length == current.Peers.Count && peers.Zip(current.Peers).All(p => p.First.SameAs(p.Second));
        if (same) return;
        current = new KubeFacts(synced, own, peers, updateRevision, current.Version + 1, live);
        var done = changed;
        changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.TrySetResult();
    }

    /// <summary>resourceVersions are etcd revisions in practice; an unparsable one counts as newest (MaxValue).</summary>
    static long Version(string? rv) => long.TryParse(rv, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : long.MaxValue;

    sealed class PodSink(KubeFactsWatcher cache) : IListWatchSink<PodObject>
    {
        public void Replace(IReadOnlyList<PodObject> items, string resourceVersion)
        {
            lock (cache.gate)
            {
                cache.ReplacePods(items, resourceVersion);
                cache.Publish();
            }
        }

        public void Apply(WatchEventKind kind, PodObject item)
        {
            lock (cache.gate)
            {
                var changed = kind == WatchEventKind.Deleted ? cache.Remove(item, item.Metadata?.ResourceVersion) : cache.Upsert(item);
                if (changed) cache.Publish();
            }
        }

        public void Forbidden()
        {
            // Pods unreadable: keep the last known facts (a later list replaces them); nothing else to do.
        }

        public void Live(bool live)
        {
            if (live) Interlocked.Exchange(ref cache.heardAt, cache.time.GetTimestamp());
            lock (cache.gate)
            {
                if (cache.live == live) return;
                cache.live = live;
                cache.Publish();
            }
        }
    }

    sealed class SetSink(KubeFactsWatcher cache, string name) : IListWatchSink<StatefulSetObject>
    {
        public void Replace(IReadOnlyList<StatefulSetObject> items, string resourceVersion) =>
            Set(items.FirstOrDefault(s => s.Metadata?.Name == name)?.Status?.UpdateRevision);

        public void Apply(WatchEventKind kind, StatefulSetObject item)
        {
            if (item.Metadata?.Name == name) Set(kind == WatchEventKind.Deleted ? null : item.Status?.UpdateRevision);
        }

        public void Forbidden() => Set(null);

        void Set(string? revision)
        {
            lock (cache.gate)
            {
                cache.updateRevision = string.IsNullOrEmpty(revision) ? null : revision;
                cache.Publish();
            }
        }
    }
}
