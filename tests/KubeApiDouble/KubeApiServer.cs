using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// A test double of the Kubernetes API server: a real Kestrel HTTP server on a loopback address that the
/// real KubernetesClient talks to. It models what a pod-labelling sidecar uses the way the real server does:
/// pods get/list/watch/patch (status subresource too), StatefulSets get/list/watch, events, resourceVersions
/// and the watch history, label and field selectors, RBAC, per-request latency and a kubelet's readiness
/// probes. It records every request and every label change, and fails, hangs, blackholes, refuses or forbids
/// on demand. Thread-safe.
/// </summary>
public sealed partial class KubeApiServer : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly SortedDictionary<string, JsonObject> _pods = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonObject> _eventStore = new(StringComparer.Ordinal);
    private readonly List<RecordedEvent> _events = [];
    private readonly List<RecordedRequest> _requests = [];
    private readonly HashSet<HttpContext> _inFlight = [];
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly IPAddress _listenAddress;
    private IReadOnlyCollection<string>? _tlsSubjectAltNames;
    private WebApplication? _app;
    private long _resourceVersion;

    private KubeApiServer(TimeProvider time, IPAddress listenAddress, KubeApiOptions options)
    {
        _time = time;
        _listenAddress = listenAddress;
        Timeline = new LabelTimeline(time);
        Latency = options.Latency;
        DefaultLatency = options.Latency;
        WatchExpiry = options.WatchExpiry;
        BookmarkInterval = options.BookmarkInterval;
        WatchHistory = options.WatchHistory;
        _users[Token] = "system:serviceaccount:default:redis-sidecar";
    }

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The bearer token of the default service account (see <see cref="WriteKubeconfig"/>); without a known token every API request gets 401.</summary>
    public string Token { get; } = "kube-api-double-token";

    /// <summary>The user of <see cref="Token"/>, named in 403 messages; <see cref="WriteKubeconfig"/> sets it to the namespace's service account.</summary>
    public string User
    {
        get
        {
            lock (_gate)
            {
                return _users[Token];
            }
        }

        set
        {
            lock (_gate)
            {
                _users[Token] = value;
            }
        }
    }

    /// <summary>Delay added to every API request (not to admin calls), on the real clock. See <see cref="KubeApiOptions.Latency"/>.</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>The latency the double started with; <see cref="ClearFaults"/> restores it.</summary>
    public TimeSpan DefaultLatency { get; }

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
        KubeApiOptions? options = null, IReadOnlyCollection<string>? tlsSubjectAltNames = null)
    {
        var server = new KubeApiServer(timeProvider ?? TimeProvider.System, address ?? IPAddress.Loopback, options ?? new KubeApiOptions());
        server._tlsSubjectAltNames = tlsSubjectAltNames;
        server._app = await server.ListenAsync(port, cancellationToken).ConfigureAwait(false);
        server.BaseAddress = new Uri(server._app.Urls.First());
        return server;
    }

    /// <summary>Builds and starts the Kestrel app on <see cref="_listenAddress"/>:<paramref name="port"/>.</summary>
    private async Task<WebApplication> ListenAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Listen(_listenAddress, port, listen =>
            {
                listen.Use(next => connection => TrackConnectionAsync(next, connection));
                UseTls(listen, _listenAddress, _tlsSubjectAltNames);
            });
            o.AddServerHeader = false;
        });
        builder.Services.AddSingleton<IHostLifetime, QuietLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return app;
    }

    /// <summary>Writes a kubeconfig (server, bearer token, context with namespace) that KubernetesClient loads.</summary>
    /// <remarks>
    /// The default service account uses <see cref="Token"/> and sets <see cref="User"/>; any other service account
    /// gets its own token (<see cref="TokenFor"/>), so tests can run two programs under two Roles.
    /// </remarks>
    public string WriteKubeconfig(string path, string @namespace, string serviceAccount = DefaultServiceAccount)
    {
        var token = TokenFor(serviceAccount);
        lock (_gate)
        {
            _users[token] = ServiceAccountUser(@namespace, serviceAccount);
        }

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
                token: {token}
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

    public const string DefaultServiceAccount = "redis-sidecar";

    /// <summary>The bearer token <see cref="WriteKubeconfig"/> writes for <paramref name="serviceAccount"/>.</summary>
    public string TokenFor(string serviceAccount) => serviceAccount == DefaultServiceAccount ? Token : $"{Token}.{serviceAccount}";

    /// <summary><c>system:serviceaccount:NS:SA</c>, the user name the real authenticator gives a service account token.</summary>
    public static string ServiceAccountUser(string @namespace, string serviceAccount) => $"system:serviceaccount:{@namespace}:{serviceAccount}";

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await ReleaseHangsAsync().ConfigureAwait(false);
        await StopProbesAsync().ConfigureAwait(false);
        WebApplication? app;
        lock (_gate)
        {
            app = _app;
            _app = null;
        }

        if (app is not null)
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    // ---------------------------------------------------------------- request pipeline

    private enum Operation
    {
        GetPod,
        ListPods,
        WatchPods,
        PatchPod,
        PatchPodStatus,
        CreateEvent,
        ListEvents,
        GetStatefulSet,
        ListStatefulSets,
        WatchStatefulSets,
    }

    private sealed record Route(Operation Operation, string Verb, string Resource, string Group, string Namespace, string? Name);

    private static Route? Resolve(string method, string path, IQueryCollection query)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var (group, rest) = segments switch
        {
            ["api", "v1", "namespaces", ..] => ("", segments[3..]),
            ["apis", "events.k8s.io", "v1", "namespaces", ..] => ("events.k8s.io", segments[4..]),
            ["apis", "apps", "v1", "namespaces", ..] => ("apps", segments[4..]),
            _ => (null, []),
        };
        if (group is null)
        {
            return null;
        }

        var watch = IsWatch(query);
        return (group, method, rest) switch
        {
            ("", "GET", [var ns, "pods"]) => watch
                ? new(Operation.WatchPods, "watch", "pods", "", ns, null)
                : new(Operation.ListPods, "list", "pods", "", ns, null),
            ("", "GET", [var ns, "pods", var name]) when !watch => new(Operation.GetPod, "get", "pods", "", ns, name),
            ("", "GET", [var ns, "pods", var name, "status"]) when !watch => new(Operation.GetPod, "get", "pods/status", "", ns, name),
            ("", "PATCH", [var ns, "pods", var name]) => new(Operation.PatchPod, "patch", "pods", "", ns, name),
            ("", "PATCH", [var ns, "pods", var name, "status"]) => new(Operation.PatchPodStatus, "patch", "pods/status", "", ns, name),
            ("" or "events.k8s.io", "GET", [var ns, "events"]) when !watch => new(Operation.ListEvents, "list", "events", group, ns, null),
            ("" or "events.k8s.io", "POST", [var ns, "events"]) => new(Operation.CreateEvent, "create", "events", group, ns, null),
            ("apps", "GET", [var ns, "statefulsets"]) => watch
                ? new(Operation.WatchStatefulSets, "watch", "statefulsets", "apps", ns, null)
                : new(Operation.ListStatefulSets, "list", "statefulsets", "apps", ns, null),
            ("apps", "GET", [var ns, "statefulsets", var name]) when !watch =>
                new(Operation.GetStatefulSet, "get", "statefulsets", "apps", ns, name),
            ("apps", "GET", [var ns, "statefulsets", var name, "status"]) when !watch =>
                new(Operation.GetStatefulSet, "get", "statefulsets/status", "apps", ns, name),
            _ => null,
        };
    }

    /// <summary>As the real server parses it: the first <c>watch</c> value, "true" or "1".</summary>
    private static bool IsWatch(IQueryCollection query) => query["watch"].FirstOrDefault() is "true" or "1";

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
        CountArrival(route?.Verb ?? request.Method.ToLowerInvariant(), route?.Resource ?? "unknown");
        string? body = null;
        string? fault = null;
        var code = 500;
        lock (_gate)
        {
            _inFlight.Add(context);
        }

        try
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(aborted).ConfigureAwait(false);
            var latency = Latency;
            if (latency > TimeSpan.Zero)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted, _stopping.Token);
                await Task.Delay(latency, TimeProvider.System, stop.Token).ConfigureAwait(false);
            }

            if (IsBlackholed())
            {
                // Accepted, never answered: the answer waits for a network that does not come back.
                fault = "blackhole";
                await HoldAsync(aborted).ConfigureAwait(false);
            }

            var (status, response) = await ExecuteAsync(context, route, body, f => fault = f).ConfigureAwait(false);
            code = status;
            if (response is not null)
            {
                await WriteAsync(context, status, response).ConfigureAwait(false);
            }
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
        catch (ConnectionResetException)
        {
            code = 0; // the connection was reset on purpose (a fault): nothing was answered
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
                request.ContentType, code, string.IsNullOrEmpty(body) ? null : body, route is null, fault,
                route?.Verb, route?.Resource);
            lock (_gate)
            {
                _inFlight.Remove(context);
                _requests.Add(recorded);
            }
        }
    }

    /// <summary>Answers the request; a null body means the operation wrote the response itself (a watch stream).</summary>
    private async Task<(int Status, JsonNode? Body)> ExecuteAsync(HttpContext context, Route? route, string body, Action<string> fault)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        if (TakeFault(request.Method, route?.Verb, path) is { } injected)
        {
            if (injected.Reset)
            {
                fault("reset");
                context.Abort();
                throw new ConnectionResetException();
            }

            if (injected.HangUntil is { } until)
            {
                fault("hang");
                await HangAsync(until, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                fault($"fail {injected.Status}");
                if (injected.Status == 429)
                {
                    context.Response.Headers.RetryAfter = injected.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                }

                throw new KubeApiException(injected.Status, KubeStatus.DefaultMessage(injected.Status),
                    retryAfterSeconds: injected.Status == 429 ? injected.RetryAfterSeconds : null);
            }
        }

        var token = request.Headers.Authorization.ToString() is var header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? header["Bearer ".Length..]
            : null;
        string? user;
        lock (_gate)
        {
            user = token is null ? null : _users.GetValueOrDefault(token);
        }

        if (user is null)
        {
            throw new KubeApiException(401, "Unauthorized");
        }

        if (route is null)
        {
            throw new KubeApiException(404, KubeStatus.DefaultMessage(404));
        }

        var fieldSelector = request.Query["fieldSelector"].ToString();
        if (Denial(token!, user, route, fieldSelector) is { } denied)
        {
            fault("forbidden");
            throw denied;
        }

        var query = request.Query;
        var dryRun = query["dryRun"] is ["All"];
        switch (route.Operation)
        {
            case Operation.WatchPods:
            case Operation.WatchStatefulSets:
                await StreamWatchAsync(context, route, query, fault).ConfigureAwait(false);
                return (200, null);
            case Operation.GetPod:
                return (200, GetPodOrThrow(route.Namespace, route.Name!));
            case Operation.ListPods:
                return (200, List(Kinds.Pods, route.Namespace, query["labelSelector"], fieldSelector));
            case Operation.PatchPod:
            case Operation.PatchPodStatus:
                return (200, PatchPod(route.Namespace, route.Name!, route.Operation == Operation.PatchPodStatus, request.ContentType, body, dryRun));
            case Operation.CreateEvent:
                return (201, CreateEvent(route.Group, route.Namespace, body, dryRun));
            case Operation.ListEvents:
                return (200, ListEvents(route.Group, route.Namespace));
            case Operation.GetStatefulSet:
                return (200, GetStatefulSet(route.Namespace, route.Name!) ?? throw KubeApiException.NotFound("statefulsets", route.Name!, "apps"));
            case Operation.ListStatefulSets:
                return (200, List(Kinds.StatefulSets, route.Namespace, query["labelSelector"], fieldSelector));
            default:
                throw new KubeApiException(404, KubeStatus.DefaultMessage(404));
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, JsonNode body)
    {
        if (context.RequestAborted.IsCancellationRequested || context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(KubeStatus.JsonOptions), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Waits until the client gives up or the double stops.</summary>
    private async Task HoldAsync(CancellationToken aborted)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, _stopping.Token);
        await Task.Delay(Timeout.InfiniteTimeSpan, linked.Token).ConfigureAwait(false);
    }

    /// <summary>Thrown after a request's connection was aborted on purpose.</summary>
    private sealed class ConnectionResetException : Exception;

    // ---------------------------------------------------------------- lists

    private JsonObject List(Kind kind, string ns, string? labelSelector, string? fieldSelector)
    {
        var (labels, fields) = ParseSelectors(kind, labelSelector, fieldSelector);
        lock (_gate)
        {
            var items = new JsonArray();
            foreach (var item in StoreOf(kind).Values.Where(o => Selects(o, ns, labels, fields, kind)))
            {
                var copy = (JsonObject)item.DeepClone();
                copy.Remove("kind");
                copy.Remove("apiVersion");
                items.Add(copy);
            }

            return new JsonObject
            {
                ["kind"] = kind.ListKind,
                ["apiVersion"] = kind.ApiVersion,
                ["metadata"] = new JsonObject { ["resourceVersion"] = CurrentResourceVersion() },
                ["items"] = items,
            };
        }
    }

    private static (LabelSelector Labels, LabelSelector Fields) ParseSelectors(Kind kind, string? labelSelector, string? fieldSelector)
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

        if (fields.Keys.FirstOrDefault(k => !kind.Fields.Contains(k)) is { } unsupported)
        {
            throw KubeApiException.BadRequest($"field label not supported: {unsupported}");
        }

        return (labels, fields);
    }

    private static bool Selects(JsonObject item, string ns, LabelSelector labels, LabelSelector fields, Kind kind) =>
        item["metadata"]?["namespace"]?.GetValue<string>() == ns
        && labels.Matches(Labels(item))
        && fields.Matches(kind.Fields.ToDictionary(f => f, f => Walk(item, f), StringComparer.Ordinal));

    private static string Walk(JsonNode node, string dotted) =>
        dotted.Split('.').Aggregate((JsonNode?)node, (n, part) => n?[part]) is JsonValue v && v.TryGetValue(out string? s) ? s : "";

    // ---------------------------------------------------------------- helpers

    private static string Key(string ns, string name) => $"{ns}/{name}";

    private string NextResourceVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

    private string CurrentResourceVersion() => _resourceVersion.ToString(CultureInfo.InvariantCulture);

    private string Timestamp() => _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string RandomSuffix(int length = 5)
    {
        const string Alphabet = "bcdfghjklmnpqrstvwxz2456789"; // apimachinery's generateName alphabet
        return string.Create(length, 0, (span, _) =>
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
