using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// A test double of the Kubernetes API server: a real Kestrel HTTP server on a loopback address that the
/// real KubernetesClient talks to. It models what a pod-labelling sidecar uses (pods get/list/patch, the
/// status subresource, events) the way the real server does, records every request and every label change,
/// and fails, hangs or forbids on demand. Thread-safe.
/// </summary>
public sealed partial class KubeApiServer : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly SortedDictionary<string, JsonObject> _pods = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _eventStore = new(StringComparer.Ordinal);
    private readonly List<RecordedEvent> _events = [];
    private readonly List<RecordedRequest> _requests = [];
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private long _resourceVersion;

    private KubeApiServer(TimeProvider time)
    {
        _time = time;
        Timeline = new LabelTimeline(time);
    }

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The bearer token every API request must carry (else 401); written into the kubeconfig.</summary>
    public string Token { get; } = "kube-api-double-token";

    /// <summary>The user named in 403 messages; <see cref="WriteKubeconfig"/> sets it to the namespace's service account.</summary>
    public string User { get; set; } = "system:serviceaccount:default:redis-sidecar";

    /// <summary>Delay added to every API request (not to admin calls).</summary>
    public TimeSpan Latency { get; set; }

    public LabelTimeline Timeline { get; }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Requests no route matched (answered 404): calls the double does not model.</summary>
    public IReadOnlyList<RecordedRequest> UnexpectedRequests => [.. Requests.Where(r => r.Unexpected)];

    public IReadOnlyList<RecordedEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>
    /// Starts the server on <paramref name="address"/> (default 127.0.0.1), port 0 = any free port; with
    /// <paramref name="tlsSubjectAltNames"/> it serves HTTPS with a certificate for the address and those names (KubeApiServer.Tls.cs).
    /// </summary>
    public static async Task<KubeApiServer> StartAsync(
        IPAddress? address = null, int port = 0, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default,
        IReadOnlyCollection<string>? tlsSubjectAltNames = null)
    {
        var server = new KubeApiServer(timeProvider ?? TimeProvider.System);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Listen(address ?? IPAddress.Loopback, port, listen => server.UseTls(listen, address ?? IPAddress.Loopback, tlsSubjectAltNames));
            o.AddServerHeader = false;
        });
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        server._app = app;
        server.BaseAddress = new Uri(app.Urls.First());
        return server;
    }

    /// <summary>Writes a kubeconfig (server, bearer token, context with namespace) that KubernetesClient loads.</summary>
    public string WriteKubeconfig(string path, string @namespace, string serviceAccount = "redis-sidecar")
    {
        User = $"system:serviceaccount:{@namespace}:{serviceAccount}";
        var server = BaseAddress.ToString().TrimEnd('/');
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: kube-api-double
              cluster:
                server: {server}
            users:
            - name: {serviceAccount}
              user:
                token: {Token}
            contexts:
            - name: kube-api-double
              context:
                cluster: kube-api-double
                user: {serviceAccount}
                namespace: {@namespace}
            current-context: kube-api-double
            preferences: {"{}"}

            """);
        return path;
    }

    /// <summary>
    /// Creates a running pod as a StatefulSet + kubelet would leave it: labels, one container, readiness gates
    /// (then kubelet's <c>Ready</c> is False, reason ReadinessGatesNotReady, until the gate conditions are
    /// True), phase Running, conditions PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled.
    /// </summary>
    public JsonObject AddPod(
        string @namespace, string name, IReadOnlyDictionary<string, string>? labels = null, IEnumerable<string>? readinessGateConditionTypes = null)
    {
        var gates = readinessGateConditionTypes?.ToList() ?? [];
        foreach (var (key, value) in labels ?? new Dictionary<string, string>())
        {
            EnsureValidLabel(key, value);
        }

        lock (_gate)
        {
            if (_pods.ContainsKey(Key(@namespace, name)))
            {
                throw new InvalidOperationException($"pods \"{name}\" already exists in namespace {@namespace}");
            }

            var pod = PodTemplate.Create(@namespace, name, labels ?? new Dictionary<string, string>(), gates, Timestamp(), _pods.Count);
            pod["metadata"]!["resourceVersion"] = NextResourceVersion();
            _pods[Key(@namespace, name)] = pod;
            RecordLabelChanges(@namespace, name, null, pod, "create");
            return (JsonObject)pod.DeepClone();
        }
    }

    /// <summary>A copy of the stored pod, or null.</summary>
    public JsonObject? GetPod(string @namespace, string name)
    {
        lock (_gate)
        {
            return _pods.TryGetValue(Key(@namespace, name), out var pod) ? (JsonObject)pod.DeepClone() : null;
        }
    }

    public string? GetLabel(string @namespace, string name, string key) =>
        GetPod(@namespace, name)?["metadata"]?["labels"]?[key]?.GetValue<string>();

    /// <summary>Deletes a pod (its labels leave the timeline as "delete").</summary>
    public bool RemovePod(string @namespace, string name)
    {
        lock (_gate)
        {
            if (!_pods.Remove(Key(@namespace, name), out var pod))
            {
                return false;
            }

            NextResourceVersion();
            RecordLabelChanges(@namespace, name, pod, null, "delete");
            return true;
        }
    }

    /// <summary>A human's <c>kubectl label</c>: sets (or with null removes) a label; recorded as source "human".</summary>
    public void SetLabel(string @namespace, string name, string key, string? value)
    {
        if (value is not null)
        {
            EnsureValidLabel(key, value);
        }

        Mutate(@namespace, name, "human", pod =>
        {
            var meta = (JsonObject)pod["metadata"]!;
            var labels = meta["labels"] as JsonObject ?? [];
            meta["labels"] = labels;
            if (value is null)
            {
                labels.Remove(key);
            }
            else
            {
                labels[key] = value;
            }
        });
    }

    /// <summary>A kubelet-style status edit: sets condition <paramref name="type"/> (added if missing).</summary>
    public void SetCondition(string @namespace, string name, string type, string status, string? reason = null, string? message = null)
    {
        Mutate(@namespace, name, "kubelet", pod =>
        {
            var podStatus = pod["status"] as JsonObject ?? [];
            pod["status"] = podStatus;
            var conditions = podStatus["conditions"] as JsonArray ?? [];
            podStatus["conditions"] = conditions;
            var existing = conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == type);
            if (existing is null)
            {
                existing = new JsonObject { ["type"] = type, ["lastProbeTime"] = null };
                conditions.Add(existing);
            }

            if (existing["status"]?.GetValue<string>() != status)
            {
                existing["lastTransitionTime"] = Timestamp();
            }

            existing["status"] = status;
            existing["reason"] = reason;
            existing["message"] = message;
        });
    }

    /// <summary>PATCH/POST/PUT requests whose path is this pod or one of its subresources.</summary>
    public int WriteCount(string @namespace, string pod) =>
        Requests.Count(r => r.IsWrite && r.Namespace == @namespace && r.Pod == pod);

    /// <summary>Write requests (PATCH/POST/PUT) per pod, keyed "namespace/pod".</summary>
    public IReadOnlyDictionary<string, int> WritesPerPod() => Requests
        .Where(r => r.IsWrite && r.Pod is not null)
        .GroupBy(r => Key(r.Namespace!, r.Pod!))
        .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await ReleaseHangsAsync().ConfigureAwait(false);
        if (_app is not null)
        {
            await _app.StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    // ---------------------------------------------------------------- request pipeline

    private enum Operation
    {
        GetPod,
        ListPods,
        PatchPod,
        PatchPodStatus,
        CreateEvent,
        ListEvents,
    }

    private sealed record Route(Operation Operation, string Verb, string Resource, string Group, string Namespace, string? Name);

    private static Route? Resolve(string method, string path, IQueryCollection query)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var (group, rest) = segments switch
        {
            ["api", "v1", "namespaces", ..] => ("", segments[3..]),
            ["apis", "events.k8s.io", "v1", "namespaces", ..] => ("events.k8s.io", segments[4..]),
            _ => (null, []),
        };
        if (group is null || query["watch"] is ["true" or "1"])
        {
            return null;
        }

        return (group, method, rest) switch
        {
            ("", "GET", [var ns, "pods"]) => new(Operation.ListPods, "list", "pods", "", ns, null),
            ("", "GET", [var ns, "pods", var name]) => new(Operation.GetPod, "get", "pods", "", ns, name),
            ("", "GET", [var ns, "pods", var name, "status"]) => new(Operation.GetPod, "get", "pods/status", "", ns, name),
            ("", "PATCH", [var ns, "pods", var name]) => new(Operation.PatchPod, "patch", "pods", "", ns, name),
            ("", "PATCH", [var ns, "pods", var name, "status"]) => new(Operation.PatchPodStatus, "patch", "pods/status", "", ns, name),
            (_, "GET", [var ns, "events"]) => new(Operation.ListEvents, "list", "events", group, ns, null),
            (_, "POST", [var ns, "events"]) => new(Operation.CreateEvent, "create", "events", group, ns, null),
            _ => null,
        };
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        if (path.StartsWith("/_double/", StringComparison.Ordinal))
        {
            await HandleAdminAsync(context).ConfigureAwait(false);
            return;
        }

        var started = _time.GetUtcNow();
        var elapsed = Timeline.Elapsed;
        var aborted = context.RequestAborted;
        var route = Resolve(request.Method, path, request.Query);
        string? body = null;
        string? fault = null;
        var code = 500;
        try
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(aborted).ConfigureAwait(false);
            if (Latency > TimeSpan.Zero)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted, _stopping.Token);
                await Task.Delay(Latency, _time, stop.Token).ConfigureAwait(false);
            }

            var (status, response) = await ExecuteAsync(context, route, body, f => fault = f).ConfigureAwait(false);
            code = status;
            await WriteAsync(context, status, response).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            code = e.Code;
            await WriteAsync(context, e.Code, e.ToStatus()).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested || _stopping.IsCancellationRequested)
        {
            code = 499; // the client went away (or the double stopped) before an answer
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            code = 500; // a bug in the double: say so in the body rather than drop the connection
            fault = "double-error";
            await WriteAsync(context, 500, KubeStatus.Failure(500, $"KubeApiDouble failed: {e}")).ConfigureAwait(false);
        }
        finally
        {
            var recorded = new RecordedRequest(started, elapsed, request.Method, path, request.QueryString.Value ?? "",
                request.ContentType, code, string.IsNullOrEmpty(body) ? null : body, route is null, fault);
            lock (_gate)
            {
                _requests.Add(recorded);
            }
        }
    }

    private async Task<(int Status, JsonNode Body)> ExecuteAsync(HttpContext context, Route? route, string body, Action<string> fault)
    {
        var request = context.Request;
        var rule = TakeFault(request.Method, route?.Verb, request.Path.Value ?? "");
        if (rule?.HangUntil is { } until)
        {
            fault("hang");
            await HangAsync(until, context.RequestAborted).ConfigureAwait(false);
        }
        else if (rule is { Status: var failWith })
        {
            fault($"fail {failWith}");
            if (failWith == 429)
            {
                context.Response.Headers.RetryAfter = "1";
            }

            throw new KubeApiException(failWith, KubeStatus.DefaultMessage(failWith));
        }

        if (request.Headers.Authorization.ToString() != $"Bearer {Token}")
        {
            throw new KubeApiException(401, "Unauthorized");
        }

        if (route is null)
        {
            throw new KubeApiException(404, KubeStatus.DefaultMessage(404));
        }

        if (IsForbidden(route.Verb, route.Resource))
        {
            fault("forbidden");
            var what = route.Resource.Split('/')[0];
            throw new KubeApiException(403,
                $"{what}{(route.Name is null ? "" : $" \"{route.Name}\"")} is forbidden: User \"{User}\" cannot {route.Verb} resource "
                + $"\"{route.Resource}\" in API group \"{route.Group}\" in the namespace \"{route.Namespace}\"",
                route.Name, what, route.Group);
        }

        var dryRun = request.Query["dryRun"] is ["All"];
        return route.Operation switch
        {
            Operation.GetPod => (200, GetPodOrThrow(route.Namespace, route.Name!)),
            Operation.ListPods => (200, ListPods(route.Namespace, request.Query["labelSelector"], request.Query["fieldSelector"])),
            Operation.PatchPod or Operation.PatchPodStatus => (200, PatchPod(
                route.Namespace, route.Name!, route.Operation == Operation.PatchPodStatus, request.ContentType, body, dryRun)),
            Operation.CreateEvent => (201, CreateEvent(route.Group, route.Namespace, body, dryRun)),
            Operation.ListEvents => (200, ListEvents(route.Group, route.Namespace)),
            _ => throw new KubeApiException(404, KubeStatus.DefaultMessage(404)),
        };
    }

    private static async Task WriteAsync(HttpContext context, int status, JsonNode body)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(KubeStatus.JsonOptions), context.RequestAborted).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- pods

    private JsonObject GetPodOrThrow(string ns, string name) =>
        GetPod(ns, name) ?? throw KubeApiException.NotFound("pods", name);

    private static readonly string[] SupportedFields =
        ["metadata.name", "metadata.namespace", "status.phase", "status.podIP", "spec.nodeName", "spec.serviceAccountName", "spec.restartPolicy"];

    private JsonObject ListPods(string ns, string? labelSelector, string? fieldSelector)
    {
        LabelSelector labels, fields;
        try
        {
            labels = LabelSelector.Parse(labelSelector);
            fields = LabelSelector.Parse(fieldSelector, validateKeys: false);
        }
        catch (FormatException e)
        {
            throw KubeApiException.BadRequest(e.Message);
        }

        if (fields.Keys.FirstOrDefault(k => !SupportedFields.Contains(k)) is { } unsupported)
        {
            throw KubeApiException.BadRequest($"field label not supported: {unsupported}");
        }

        lock (_gate)
        {
            var items = new JsonArray();
            foreach (var pod in _pods.Values.Where(p => p["metadata"]?["namespace"]?.GetValue<string>() == ns))
            {
                var fieldValues = SupportedFields.ToDictionary(f => f, f => Walk(pod, f), StringComparer.Ordinal);
                if (labels.Matches(Labels(pod)) && fields.Matches(fieldValues))
                {
                    var item = (JsonObject)pod.DeepClone();
                    item.Remove("kind");
                    item.Remove("apiVersion");
                    items.Add(item);
                }
            }

            return new JsonObject
            {
                ["kind"] = "PodList",
                ["apiVersion"] = "v1",
                ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                ["items"] = items,
            };
        }

        static string Walk(JsonNode node, string dotted) =>
            dotted.Split('.').Aggregate((JsonNode?)node, (n, part) => n?[part]) is JsonValue v && v.TryGetValue(out string? s) ? s : "";
    }

    private JsonObject PatchPod(string ns, string name, bool statusOnly, string? contentType, string body, bool dryRun)
    {
        var mediaType = (contentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not (Patches.MergePatchType or Patches.StrategicMergePatchType or Patches.JsonPatchType))
        {
            throw new KubeApiException(415, $"the body of the request was in an unknown format - accepted media types include: "
                + $"{Patches.JsonPatchType}, {Patches.MergePatchType}, {Patches.StrategicMergePatchType}");
        }

        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest($"error decoding patch: {e.Message}");
        }

        lock (_gate)
        {
            var current = _pods.GetValueOrDefault(Key(ns, name)) ?? throw KubeApiException.NotFound("pods", name);
            var patched = (mediaType, patch) switch
            {
                (Patches.JsonPatchType, JsonArray operations) => Patches.JsonPatch(current, operations),
                (Patches.MergePatchType, JsonObject) => Patches.MergePatch(current, patch),
                (Patches.StrategicMergePatchType, JsonObject) => Patches.StrategicMergePatch(current, patch),
                _ => throw KubeApiException.BadRequest(
                    $"error decoding patch: a {mediaType} body must be a JSON {(mediaType == Patches.JsonPatchType ? "array" : "object")}"),
            };
            if (patched is not JsonObject { } candidate || candidate["metadata"] is not JsonObject candidateMeta)
            {
                throw KubeApiException.Invalid("Pod", name, "metadata: Required value");
            }

            var currentRv = current["metadata"]!["resourceVersion"]!.GetValue<string>();
            var requestedRv = candidateMeta["resourceVersion"] is JsonValue rv && rv.TryGetValue(out string? s) ? s : null;
            if (!string.IsNullOrEmpty(requestedRv) && requestedRv != currentRv)
            {
                throw KubeApiException.Conflict("pods", name);
            }

            JsonObject next;
            if (statusOnly)
            {
                // pods/status: only status changes; metadata and spec changes are dropped.
                next = (JsonObject)current.DeepClone();
                next["status"] = candidate["status"]?.DeepClone();
            }
            else
            {
                // the main resource: status changes are dropped; server-owned metadata is kept.
                next = candidate;
                next["status"] = current["status"]?.DeepClone();
                PodTemplate.ValidateUpdate(current, next, name);
            }

            return dryRun ? next : Commit(ns, name, current, next, statusOnly ? "status-patch" : "patch");
        }
    }

    /// <summary>Stores <paramref name="next"/> unless it equals the current pod (a no-op keeps the resourceVersion).</summary>
    private JsonObject Commit(string ns, string name, JsonObject current, JsonObject next, string source)
    {
        next["metadata"]!["resourceVersion"] = current["metadata"]!["resourceVersion"]!.DeepClone();
        if (JsonNode.DeepEquals(current, next))
        {
            return (JsonObject)current.DeepClone();
        }

        next["metadata"]!["resourceVersion"] = NextResourceVersion();
        _pods[Key(ns, name)] = next;
        RecordLabelChanges(ns, name, current, next, source);
        return (JsonObject)next.DeepClone();
    }

    private void Mutate(string ns, string name, string source, Action<JsonObject> edit)
    {
        lock (_gate)
        {
            var current = _pods.GetValueOrDefault(Key(ns, name))
                ?? throw new InvalidOperationException($"pods \"{name}\" not found in namespace {ns}");
            var next = (JsonObject)current.DeepClone();
            edit(next);
            Commit(ns, name, current, next, source);
        }
    }

    private void RecordLabelChanges(string ns, string name, JsonObject? before, JsonObject? after, string source)
    {
        var old = before is null ? new Dictionary<string, string>() : Labels(before);
        var now = after is null ? new Dictionary<string, string>() : Labels(after);
        foreach (var key in old.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            var from = old.GetValueOrDefault(key);
            var to = now.GetValueOrDefault(key);
            if (from != to)
            {
                Timeline.Record(ns, name, key, from, to, source);
            }
        }
    }

    private static Dictionary<string, string> Labels(JsonObject pod) =>
        (pod["metadata"]?["labels"] as JsonObject ?? [])
            .Where(kv => kv.Value is JsonValue)
            .ToDictionary(kv => kv.Key, kv => kv.Value!.ToString(), StringComparer.Ordinal);

    private static void EnsureValidLabel(string key, string value)
    {
        if (!LabelRules.IsValidKey(key) || !LabelRules.IsValidValue(value))
        {
            throw new ArgumentException($"invalid label {key}={value}");
        }
    }

    // ---------------------------------------------------------------- events

    private JsonObject CreateEvent(string group, string ns, string body, bool dryRun)
    {
        JsonObject ev;
        try
        {
            ev = JsonNode.Parse(body) as JsonObject ?? throw KubeApiException.BadRequest("the body of the request must be an Event object");
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest($"error decoding event: {e.Message}");
        }

        var meta = ev["metadata"] as JsonObject ?? [];
        ev["metadata"] = meta;
        if (meta["namespace"]?.GetValue<string>() is { Length: > 0 } objectNs && objectNs != ns)
        {
            throw KubeApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }

        var name = meta["name"]?.GetValue<string>() is { Length: > 0 } given ? given
            : meta["generateName"]?.GetValue<string>() is { Length: > 0 } prefix ? prefix + RandomSuffix()
            : throw KubeApiException.Invalid("Event", "", "metadata.name: Required value: name or generateName is required");
        ValidateEvent(group, ns, name, ev);

        lock (_gate)
        {
            var key = $"{group}|{ns}|{name}";
            if (_eventStore.ContainsKey(key))
            {
                throw new KubeApiException(409, $"events \"{name}\" already exists", name, "events", group, reason: "AlreadyExists");
            }

            ev["kind"] = "Event";
            ev["apiVersion"] = group.Length == 0 ? "v1" : $"{group}/v1";
            meta["name"] = name;
            meta["namespace"] = ns;
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Timestamp();
            if (dryRun)
            {
                return ev;
            }

            meta["resourceVersion"] = NextResourceVersion();
            _eventStore[key] = ev;
            _events.Add(new RecordedEvent(_time.GetUtcNow(), group, ns, name, (JsonObject)ev.DeepClone()));
            return (JsonObject)ev.DeepClone();
        }
    }

    /// <summary>The checks of the real server that a sidecar is most likely to trip over.</summary>
    private static void ValidateEvent(string group, string ns, string name, JsonObject ev)
    {
        List<string> errors = [];
        string? Text(string member) => ev[member] is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 ? s : null;
        if (group.Length == 0)
        {
            if (ev["involvedObject"]?["namespace"]?.GetValue<string>() is { Length: > 0 } involvedNs && involvedNs != ns)
            {
                errors.Add($"involvedObject.namespace: Invalid value: \"{involvedNs}\": does not match event.namespace");
            }
        }
        else
        {
            errors.AddRange(new[] { "eventTime", "reportingController", "reportingInstance", "action", "reason" }
                .Where(m => Text(m) is null).Select(m => $"{m}: Required value"));
            if (Text("type") is not ("Normal" or "Warning"))
            {
                errors.Add($"type: Unsupported value: \"{Text("type")}\": supported values: \"Normal\", \"Warning\"");
            }
        }

        if (errors.Count > 0)
        {
            throw KubeApiException.Invalid("Event", name, $"[{string.Join(", ", errors)}]");
        }
    }

    private JsonObject ListEvents(string group, string ns)
    {
        lock (_gate)
        {
            var items = new JsonArray();
            foreach (var ev in _eventStore.Where(kv => kv.Key.StartsWith($"{group}|{ns}|", StringComparison.Ordinal)).Select(kv => kv.Value))
            {
                items.Add(ev.DeepClone());
            }

            return new JsonObject
            {
                ["kind"] = "EventList",
                ["apiVersion"] = group.Length == 0 ? "v1" : $"{group}/v1",
                ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                ["items"] = items,
            };
        }
    }

    // ---------------------------------------------------------------- helpers

    private static string Key(string ns, string name) => $"{ns}/{name}";

    private string NextResourceVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

    private string Timestamp() => _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string RandomSuffix()
    {
        const string Alphabet = "bcdfghjklmnpqrstvwxz2456789"; // apimachinery's generateName alphabet
        return string.Create(5, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[Random.Shared.Next(Alphabet.Length)];
            }
        });
    }

    /// <summary>No console lifetime: a double inside a test process must not react to Ctrl+C.</summary>
    private sealed class QuietLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
