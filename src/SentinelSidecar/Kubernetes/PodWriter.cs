using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Hosting;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>What the sidecar reads of a pod.</summary>
public sealed record PodSnapshot(IReadOnlyDictionary<string, string> Labels, bool DeclaresReadinessGate, bool? ConditionTrue, string? Uid);

/// <summary>The sidecar's only way to the Kubernetes API: its own pod's label, condition and events; peers' labels read-only.</summary>
public interface IPodWriter
{
    Task<PodSnapshot> ReadOwnPodAsync(CancellationToken ct);
    /// <summary>The role label value on another pod of the set, read now (null = not labelled or pod gone); throws <see cref="PodWriteException"/> when it cannot be read.</summary>
    Task<string?> ReadPeerLabelAsync(string podName, CancellationToken ct);
    Task SetRoleLabelAsync(string? value, CancellationToken ct);
    Task SetReadinessConditionAsync(bool ready, string reason, string message, CancellationToken ct);
    Task RecordEventAsync(string type, string reason, string message, CancellationToken ct);
}

/// <summary>Raised for API errors that retrying cannot fix (403, 404, 422): logged, not retried.</summary>
public sealed class PodWriteException(string message) : Exception(message);

public sealed class PodWriter : IPodWriter
{
    readonly IKubernetes client;
    readonly SidecarSettings settings;
    readonly ILogger logger;
    readonly SidecarMetrics metrics;
    readonly ResiliencePipeline pipeline;
    readonly HashSet<string> forbiddenLogged = [];
    readonly string pod;
    readonly string ns;
    string? uid;

    public PodWriter(IKubernetes client, SidecarSettings settings, ILogger logger, SidecarMetrics metrics, TimeProvider time)
    {
        this.client = client;
        this.settings = settings;
        this.logger = logger;
        this.metrics = metrics;
        pod = settings.Common.PodName!;
        ns = settings.Common.Namespace;
        pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<HttpOperationException>(e => IsTransient(e.Response.StatusCode))
                    .Handle<HttpRequestException>().Handle<TimeoutRejectedException>()
                    .Handle<TaskCanceledException>(),
                MaxRetryAttempts = 5,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(2),
                OnRetry = a =>
                {
                    metrics.ApiErrors.Increment();
                    Log.ApiProblem(logger, "request", Describe(a.Outcome.Exception));
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(TimeSpan.FromSeconds(5))
            .Build();
    }

    public static IKubernetes CreateClient(SidecarSettings settings)
    {
        var config = settings.KubeConfig is { } path
            ? KubernetesClientConfiguration.BuildConfigFromConfigFile(path)
            : KubernetesClientConfiguration.IsInCluster()
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildDefaultConfig();
        config.HttpClientTimeout = TimeSpan.FromSeconds(5);
        return new k8s.Kubernetes(config);
    }

    static bool IsTransient(HttpStatusCode code) => code is HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests || (int)code >= 500;

    public async Task<PodSnapshot> ReadOwnPodAsync(CancellationToken ct)
    {
        var p = await RunAsync("get", "pods", pod, c => client.CoreV1.ReadNamespacedPodAsync(pod, ns, cancellationToken: c), ct).ConfigureAwait(false);
        uid = p.Metadata?.Uid;
        var labels = p.Metadata?.Labels is { } l ? new Dictionary<string, string>(l) : new Dictionary<string, string>();
        var gate = p.Spec?.ReadinessGates?.Any(g => g.ConditionType == settings.ReadinessConditionType) == true;
        var cond = p.Status?.Conditions?.FirstOrDefault(c => c.Type == settings.ReadinessConditionType);
        return new PodSnapshot(labels, gate, cond is null ? null : cond.Status == "True", uid);
    }

    public async Task<string?> ReadPeerLabelAsync(string podName, CancellationToken ct)
    {
        try
        {
            var p = await RunAsync("get", "pods", podName, c => client.CoreV1.ReadNamespacedPodAsync(podName, ns, cancellationToken: c), ct).ConfigureAwait(false);
            return p.Metadata?.Labels is { } l && l.TryGetValue(settings.LabelName, out var v) ? v : null;
        }
        catch (PodWriteException e) when (e.Message.Contains("HTTP 404", StringComparison.Ordinal))
        {
            return null; // the pod is gone: it carries no label
        }
    }

    public async Task SetRoleLabelAsync(string? value, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, Dictionary<string, Dictionary<string, string?>>>
        {
            ["metadata"] = new() { ["labels"] = new() { [settings.LabelName] = value } },
        }, PatchJsonContext.Default.DictionaryStringDictionaryStringDictionaryStringString);
        await RunAsync("patch", "pods", pod,
            c => client.CoreV1.PatchNamespacedPodAsync(new V1Patch(body, V1Patch.PatchType.MergePatch), pod, ns, cancellationToken: c), ct).ConfigureAwait(false);
        metrics.LabelPatches.Increment();
    }

    public async Task SetReadinessConditionAsync(bool ready, string reason, string message, CancellationToken ct)
    {
        // Strategic merge: conditions merge on "type", so the kubelet's own conditions survive
        // (a merge patch would replace the whole list on a real API server).
        var condition = new ConditionPatch(settings.ReadinessConditionType, ready ? "True" : "False", reason, Truncate(message, 256),
            DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        var body = JsonSerializer.Serialize(new StatusPatch(new StatusConditions([condition])), PatchJsonContext.Default.StatusPatch);
        await RunAsync("patch", "pods/status", pod,
            c => client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(body, V1Patch.PatchType.StrategicMergePatch), pod, ns, cancellationToken: c), ct).ConfigureAwait(false);
    }

    public async Task RecordEventAsync(string type, string reason, string message, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var ev = new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = pod + ".", NamespaceProperty = ns },
            InvolvedObject = new V1ObjectReference { Kind = "Pod", ApiVersion = "v1", Name = pod, NamespaceProperty = ns, Uid = uid },
            Type = type,
            Reason = reason,
            Message = Truncate(message, 1024),
            Source = new V1EventSource { Component = "redis-sidecar" },
            ReportingComponent = "redis-sidecar",
            ReportingInstance = pod,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
        try
        {
            await RunAsync("create", "events", pod, c => client.CoreV1.CreateNamespacedEventAsync(ev, ns, cancellationToken: c), ct).ConfigureAwait(false);
        }
        catch (PodWriteException) when (!ct.IsCancellationRequested)
        {
            // An event is best effort: its failure is logged and never blocks a label change.
        }
    }

    async Task<T> RunAsync<T>(string verb, string resource, string name, Func<CancellationToken, Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await pipeline.ExecuteAsync(async c => await call(c).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            metrics.ApiErrors.Increment();
            lock (forbiddenLogged)
                if (forbiddenLogged.Add($"{verb} {resource} {name}")) Log.Forbidden(logger, verb, resource, name);
            throw new PodWriteException($"{verb} {resource}/{name} forbidden (RBAC)");
        }
        catch (HttpOperationException e)
        {
            metrics.ApiErrors.Increment();
            throw new PodWriteException($"{verb} {resource}/{name}: HTTP {(int)e.Response.StatusCode} {e.Response.ReasonPhrase}");
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            metrics.ApiErrors.Increment();
            throw new PodWriteException($"{verb} {resource}/{name}: {Describe(e)}");
        }
    }

    static string Describe(Exception? e) => e switch
    {
        HttpOperationException h => $"HTTP {(int)h.Response.StatusCode}",
        HttpRequestException h => "connection failed" + (h.HttpRequestError == HttpRequestError.Unknown ? "" : $" ({h.HttpRequestError})"),
        TimeoutRejectedException or TaskCanceledException => "timed out",
        null => "unknown",
        _ => e.GetType().Name,
    };

    static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}

public sealed record ConditionPatch(
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status,
    [property: System.Text.Json.Serialization.JsonPropertyName("reason")] string Reason,
    [property: System.Text.Json.Serialization.JsonPropertyName("message")] string Message,
    [property: System.Text.Json.Serialization.JsonPropertyName("lastTransitionTime")] string LastTransitionTime);

public sealed record StatusConditions([property: System.Text.Json.Serialization.JsonPropertyName("conditions")] IReadOnlyList<ConditionPatch> Conditions);

public sealed record StatusPatch([property: System.Text.Json.Serialization.JsonPropertyName("status")] StatusConditions Status);

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, Dictionary<string, Dictionary<string, string?>>>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(StatusPatch))]
internal sealed partial class PatchJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
