using System.Text.Json;
using k8s.Autorest;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>The sidecar's port to its pods in the Kubernetes API: writes its own pod's label, condition and events; reads the peers' labels fresh.</summary>
public interface IPodClient
{
    /// <summary>
    /// The role label of every other pod of the set (null = not labelled), read from the API now with one list, never
    /// from the cache (what the list shows also goes into the cache); throws <see cref="PodApiException"/> when it
    /// cannot be read.
    /// </summary>
    Task<IReadOnlyDictionary<string, string?>> ReadPeerLabelsNowAsync(CancellationToken ct);
    Task SetRoleLabelAsync(string? value, CancellationToken ct);
    Task SetReadinessConditionAsync(bool ready, string reason, string message, CancellationToken ct);
    /// <summary>Best effort: never throws (but OperationCanceledException when <paramref name="ct"/> is cancelled).</summary>
    Task RecordEventAsync(string type, string reason, string message, CancellationToken ct);
}

/// <summary>Raised for API errors that retrying cannot fix (403, 404, 422), or transient ones that outlasted the bound.</summary>
public sealed class PodApiException(string message) : Exception(message);

/// <summary>Bounds of one write: per attempt, in total, and the retries between.</summary>
public sealed record PodWriteOptions
{
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public int MaxRetries { get; init; } = 5;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// The writes: a merge patch of the role label on pods, a strategic-merge patch of the readiness condition on
/// pods/status (a merge patch would replace the kubelet's conditions), Events. Each is bounded (per attempt, in
/// total), retried only for transient faults with backoff and jitter (honouring Retry-After), and a 403 is logged
/// once with the exact missing rule. A successful patch feeds the returned pod into the watch cache.
/// </summary>
public sealed class PodClient : IPodClient
{
    readonly KubeApi client;
    readonly SidecarSettings settings;
    readonly ILogger logger;
    readonly SidecarMetrics metrics;
    readonly TimeProvider time;
    readonly KubeFactsWatcher? cache;
    readonly ForbiddenReporter forbidden;
    readonly ResiliencePipeline pipeline;
    readonly string pod;
    readonly string ns;
    string? uid;

    public PodClient(KubeApi client, SidecarSettings settings, ILogger logger, SidecarMetrics metrics, TimeProvider time,
        KubeFactsWatcher? cache = null, PodWriteOptions? options = null, ForbiddenReporter? forbidden = null)
    {
        this.client = client;
        this.settings = settings;
        this.logger = logger;
        this.metrics = metrics;
        this.time = time;
        this.cache = cache;
        this.forbidden = forbidden ?? new ForbiddenReporter(logger);
        options ??= new PodWriteOptions();
        pod = settings.Common.PodName!;
        ns = settings.Common.Namespace;
        pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddTimeout(options.TotalTimeout)
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(KubeErrors.IsTransient),
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.InitialBackoff,
                MaxDelay = options.MaxBackoff,
                DelayGenerator = a => new ValueTask<TimeSpan?>(KubeErrors.RetryAfter(a.Outcome.Exception!) is { } r
                    ? (r < options.MaxBackoff ? r : options.MaxBackoff) : null),
                OnRetry = a =>
                {
                    metrics.ApiErrors.Increment();
                    KubeLog.WriteFailed(logger, "request (retrying)", KubeErrors.Describe(a.Outcome.Exception));
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    /// <summary>
    /// The connection every part of the sidecar uses. Its HttpClient timeout bounds one request until its headers:
    /// a watch's stream is bounded by the cache's idle timeout.
    /// </summary>
    public static KubeApi CreateClient(SidecarSettings settings) =>
        KubeApi.Create(settings.KubeConfig, TimeSpan.FromSeconds(5), $"redis-sidecar/{typeof(PodClient).Assembly.GetName().Version}");

    public async Task<IReadOnlyDictionary<string, string?>> ReadPeerLabelsNowAsync(CancellationToken ct) =>
        (await ListSetPodsAsync(ct).ConfigureAwait(false)).Where(p => p.Name != pod).ToDictionary(p => p.Name, p => p.Label(settings.LabelName), StringComparer.Ordinal);

    /// <summary>
    /// A fresh list of the set's pods: the same list the watch cache makes (no second way of reading pods). What it
    /// shows goes into the cache too (newer resourceVersions only): a watch can be silently dead (a blackholed
    /// connection until the idle timeout), and the applier plans from the cache.
    /// </summary>
    async Task<IReadOnlyList<PodFacts>> ListSetPodsAsync(CancellationToken ct)
    {
        var (items, _) = await RunAsync("list", "pods", c => StatefulSetPods.ListPodsAsync(client, ns, settings.PodNames, c), ct, target: null).ConfigureAwait(false);
        foreach (var p in items) cache?.Observe(p);
        return [.. items.Select(p => PodFacts.From(p, settings.ReadinessConditionType))];
    }

    public async Task SetRoleLabelAsync(string? value, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, Dictionary<string, Dictionary<string, string?>>>
        {
            ["metadata"] = new() { ["labels"] = new() { [settings.LabelName] = value } },
        }, LabelPatchJson.Default.DictionaryStringDictionaryStringDictionaryStringString);
        var patched = await RunAsync("patch", "pods",
            c => KubeHttp.SendAsync(client, HttpMethod.Patch, PodPath(""), ApiJson.Default.PodObject, body, KubeHttp.MergePatch, c), ct).ConfigureAwait(false);
        metrics.LabelPatches.Increment();
        Observe(patched);
    }

    public async Task SetReadinessConditionAsync(bool ready, string reason, string message, CancellationToken ct)
    {
        // Strategic merge: conditions merge on "type", so the kubelet's own conditions survive
        // (a merge patch would replace the whole list on a real API server).
        var condition = new ConditionPatch(settings.ReadinessConditionType, ready ? "True" : "False", reason, Truncate(message, 256),
            time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        var body = JsonSerializer.Serialize(new StatusPatch(new StatusConditions([condition])), ApiJson.Default.StatusPatch);
        var patched = await RunAsync("patch", "pods/status",
            c => KubeHttp.SendAsync(client, HttpMethod.Patch, PodPath("/status"), ApiJson.Default.PodObject, body, KubeHttp.StrategicMergePatch, c), ct).ConfigureAwait(false);
        Observe(patched);
    }

    public async Task RecordEventAsync(string type, string reason, string message, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var ev = new EventObject(
            new ObjectMeta { GenerateName = pod + ".", Namespace = ns },
            new ObjectReference("Pod", "v1", pod, ns, uid ?? cache?.Current.Own?.Uid),
            type, reason, Truncate(message, 1024), new EventSource("redis-sidecar"), "redis-sidecar", pod, now, now, 1);
        var body = JsonSerializer.Serialize(ev, ApiJson.Default.EventObject);
        try
        {
            await RunAsync("create", "events",
                c => KubeHttp.SendAsync(client, HttpMethod.Post, $"api/v1/namespaces/{KubeHttp.Escape(ns)}/events", ApiJson.Default.ApiStatus, body, "application/json", c),
                ct, target: null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // An event is best effort: its failure is logged (by RunAsync) and never blocks a label change.
        }
    }

    string PodPath(string subresource) => $"api/v1/namespaces/{KubeHttp.Escape(ns)}/pods/{KubeHttp.Escape(pod)}{subresource}";

    void Observe(PodObject patched)
    {
        if (patched.Metadata?.Uid is { } u) uid = u;
        cache?.Observe(patched);
    }

    /// <summary>One bounded, retried call; <paramref name="target"/> is the object name RBAC sees (default: this pod; null: none).</summary>
    Task<T> RunAsync<T>(string verb, string resource, Func<CancellationToken, Task<T>> call, CancellationToken ct) =>
        RunAsync(verb, resource, call, ct, pod);

    async Task<T> RunAsync<T>(string verb, string resource, Func<CancellationToken, Task<T>> call, CancellationToken ct, string? target)
    {
        try
        {
            return await pipeline.ExecuteAsync(async c => await call(c).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (HttpOperationException e) when (KubeErrors.StatusOf(e) == 403)
        {
            metrics.ApiErrors.Increment();
            forbidden.Report(verb, "", resource, target);
            throw new PodApiException($"{verb} {resource}{(target is null ? "" : $" {target}")} forbidden (RBAC)");
        }
        catch (Exception e) when (e is HttpOperationException || KubeErrors.IsTransient(e))
        {
            metrics.ApiErrors.Increment();
            KubeLog.WriteFailed(logger, $"{verb} {resource}{(target is null ? "" : $" {target}")}", KubeErrors.Describe(e));
            throw new PodApiException($"{verb} {resource}{(target is null ? "" : $" {target}")}: {KubeErrors.Describe(e)}");
        }
    }

    static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
