using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>How the kubelet probes a container's readiness (the probe fields of a container spec).</summary>
/// <param name="Period">periodSeconds (kubelet default 10 s).</param>
/// <param name="Timeout">timeoutSeconds (default 1 s): a probe without an answer in time fails.</param>
/// <param name="SuccessThreshold">Consecutive successes that make a not-ready container ready (default 1).</param>
/// <param name="FailureThreshold">Consecutive failures that make a ready container not ready (default 3).</param>
/// <param name="InitialDelay">initialDelaySeconds (default 0).</param>
public sealed record ProbeSettings(
    TimeSpan Period, TimeSpan Timeout, int SuccessThreshold = 1, int FailureThreshold = 3, TimeSpan InitialDelay = default)
{
    public static ProbeSettings KubeletDefaults { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
}

/// <summary>
/// The kubelet's part: readiness probes (HTTP GET, 200–399 is success) and the pod's <c>ContainersReady</c> and
/// <c>Ready</c> conditions, written to the stored pod as the kubelet writes them, so watches and the endpoints
/// timeline see them. <c>Ready</c> = every container ready AND every readiness gate condition True; it is
/// recomputed whenever a gate condition or container readiness changes.
/// </summary>
public sealed partial class KubeApiServer
{
    private readonly List<PodState> _podStates = [];
    private readonly Dictionary<string, ProbeWorker> _probes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, bool>> _containerReadiness = new(StringComparer.Ordinal);
    private HttpClient? _probeClient;

    /// <summary>
    /// Starts probing <paramref name="url"/> as container <paramref name="container"/>'s readiness probe on pod
    /// <paramref name="name"/>. Like the kubelet, the container starts not ready (its pod's Ready goes False at
    /// once) and flips after the thresholds. A recreated pod (new uid) starts over; a missing pod is skipped.
    /// Replaces an earlier probe of the same pod and container.
    /// </summary>
    public void ProbeReadiness(string @namespace, string name, Uri url, ProbeSettings? settings = null, string container = "redis-sidecar")
    {
        var key = $"{Key(@namespace, name)}/{container}";
        ProbeWorker? old;
        ProbeWorker worker;
        lock (_gate)
        {
            _probeClient ??= new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, UseProxy = false })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            };
            _probes.Remove(key, out old);
            worker = new ProbeWorker(this, @namespace, name, container, url, settings ?? ProbeSettings.KubeletDefaults);
            _probes[key] = worker;
        }

        old?.Stop();
        if (PodUid(@namespace, name) is { } uid)
        {
            SetContainerReady(@namespace, name, uid, container, false); // a newly probed container starts not ready
        }

        worker.Start();
    }

    /// <summary>Stops the readiness probe of <paramref name="container"/> on the pod; the last result stays.</summary>
    public async Task StopProbingAsync(string @namespace, string name, string container = "redis-sidecar")
    {
        ProbeWorker? worker;
        lock (_gate)
        {
            _probes.Remove($"{Key(@namespace, name)}/{container}", out worker);
        }

        if (worker is not null)
        {
            await worker.StopAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Every recorded pod state (after each change), in the order the double applied them.</summary>
    public IReadOnlyList<PodState> PodStates
    {
        get
        {
            lock (_gate)
            {
                return [.. _podStates];
            }
        }
    }

    /// <summary>The endpoints of a Service selecting <paramref name="selector"/> (e.g. <c>redis-role=master</c>) over time, up to now.</summary>
    public EndpointsTimeline Endpoints(string @namespace, string selector) => new(@namespace, selector, PodStates, Timeline.Elapsed);

    private async Task StopProbesAsync()
    {
        List<ProbeWorker> workers;
        lock (_gate)
        {
            workers = [.. _probes.Values];
            _probes.Clear();
        }

        await Task.WhenAll(workers.Select(w => w.StopAsync())).ConfigureAwait(false);
        _probeClient?.Dispose();
    }

    private void RecordPodState(string ns, string name, JsonObject? pod)
    {
        var state = new PodState(Timeline.Elapsed, _time.GetUtcNow(), ns, name, pod is not null,
            pod is null ? new Dictionary<string, string>() : Labels(pod),
            pod is not null && ConditionStatus(pod, "Ready") == "True",
            pod?["metadata"]?["deletionTimestamp"] is not null);
        var last = _podStates.LastOrDefault(s => s.Namespace == ns && s.Pod == name);
        if (last is null || last.Exists != state.Exists || last.Ready != state.Ready || last.Terminating != state.Terminating
            || !last.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).SequenceEqual(state.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal)))
        {
            _podStates.Add(state);
        }
    }

    private sealed record ReadyCondition(string Status, string? Reason, string? Message);

    /// <summary>The Ready condition the kubelet would write for <paramref name="pod"/>; null when the pod has no kubelet conditions.</summary>
    private ReadyCondition? KubeletReady(JsonObject pod)
    {
        if (ConditionStatus(pod, "ContainersReady") is not { } containers)
        {
            return null; // the kubelet's conditions were replaced wholesale (a merge patch): nothing to derive from
        }

        if (containers != "True")
        {
            return new("False", "ContainersNotReady", UnreadyContainersMessage(pod));
        }

        var unmet = new List<string>();
        foreach (var gate in (pod["spec"]?["readinessGates"] as JsonArray ?? []).Select(g => g?["conditionType"]?.GetValue<string>()).OfType<string>())
        {
            var status = ConditionStatus(pod, gate);
            if (status is null)
            {
                unmet.Add($"corresponding condition of pod readiness gate \"{gate}\" does not exist.");
            }
            else if (status != "True")
            {
                unmet.Add($"the status of pod readiness gate \"{gate}\" is not \"True\", but {status}");
            }
        }

        return unmet.Count == 0 ? new("True", null, null) : new("False", "ReadinessGatesNotReady", string.Join(", ", unmet));
    }

    /// <summary>True when a gate condition or ContainersReady changed: the kubelet then recomputes Ready.</summary>
    private static bool ReadinessInputsChanged(JsonObject before, JsonObject after)
    {
        var gates = (after["spec"]?["readinessGates"] as JsonArray ?? []).Select(g => g?["conditionType"]?.GetValue<string>()).OfType<string>();
        return gates.Append("ContainersReady").Any(type => ConditionStatus(before, type) != ConditionStatus(after, type));
    }

    private static bool ReadyEquals(JsonObject pod, ReadyCondition ready)
    {
        var current = (pod["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == "Ready");
        return current is not null && current["status"]?.GetValue<string>() == ready.Status
            && current["reason"]?.GetValue<string>() == ready.Reason && current["message"]?.GetValue<string>() == ready.Message;
    }

    private string UnreadyContainersMessage(JsonObject pod)
    {
        var name = pod["metadata"]!["name"]!.GetValue<string>();
        var ns = pod["metadata"]!["namespace"]!.GetValue<string>();
        var probed = _containerReadiness.GetValueOrDefault(Key(ns, name)) ?? [];
        var unready = probed.Where(kv => !kv.Value).Select(kv => kv.Key)
            .Concat((pod["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(c => c["ready"]?.GetValue<bool>() == false && !probed.ContainsKey(c["name"]!.GetValue<string>()))
                .Select(c => c["name"]!.GetValue<string>()))
            .Order(StringComparer.Ordinal);
        return $"containers with unready status: [{string.Join(" ", unready)}]";
    }

    /// <summary>Records a probe verdict and, when it changes the pod's container readiness, writes ContainersReady and Ready at once.</summary>
    private void SetContainerReady(string ns, string name, string? uid, string container, bool ready)
    {
        lock (_gate)
        {
            if (_pods.GetValueOrDefault(Key(ns, name)) is not { } current || (uid is not null && current["metadata"]?["uid"]?.GetValue<string>() != uid))
            {
                return;
            }

            if (!_containerReadiness.TryGetValue(Key(ns, name), out var containers))
            {
                containers = new Dictionary<string, bool>(StringComparer.Ordinal);
                _containerReadiness[Key(ns, name)] = containers;
            }

            containers[container] = ready;
            var next = (JsonObject)current.DeepClone();
            foreach (var status in (next["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(c => c["name"]?.GetValue<string>() == container))
            {
                status["ready"] = ready;
            }

            var allReady = containers.Values.All(r => r)
                && (next["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>().All(c => c["ready"]?.GetValue<bool>() != false);
            SetConditionIn(next, "ContainersReady", allReady ? "True" : "False", allReady ? null : "ContainersNotReady",
                allReady ? null : UnreadyContainersMessage(next));
            if (KubeletReady(next) is { } podReady)
            {
                SetConditionIn(next, "Ready", podReady.Status, podReady.Reason, podReady.Message);
            }

            Commit(ns, name, current, next, "kubelet");
        }
    }

    /// <summary>A new pod whose containers are probed starts with them not ready (no Ready blip before the first probe).</summary>
    private void StartProbedContainersUnready(string ns, string name, JsonObject pod)
    {
        var prefix = $"{Key(ns, name)}/";
        var probed = _probes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]).ToList();
        if (probed.Count == 0)
        {
            return;
        }

        _containerReadiness[Key(ns, name)] = probed.ToDictionary(c => c, _ => false, StringComparer.Ordinal);
        var message = UnreadyContainersMessage(pod);
        SetConditionIn(pod, "ContainersReady", "False", "ContainersNotReady", message);
        SetConditionIn(pod, "Ready", "False", "ContainersNotReady", message);
    }

    private string? PodUid(string ns, string name)
    {
        lock (_gate)
        {
            return _pods.GetValueOrDefault(Key(ns, name))?["metadata"]?["uid"]?.GetValue<string>();
        }
    }

    /// <summary>One container's readiness probe loop (the kubelet's prober worker).</summary>
    private sealed class ProbeWorker(KubeApiServer api, string ns, string pod, string container, Uri url, ProbeSettings settings)
    {
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;

        public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

        public void Stop() => _ = StopAsync();

        public async Task StopAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopped
            }
        }

        private async Task RunAsync(CancellationToken ct)
        {
            string? uid = null;
            var ready = false;
            var successes = 0;
            var failures = 0;
            var delay = settings.InitialDelay;
            while (!ct.IsCancellationRequested)
            {
                var current = api.PodUid(ns, pod);
                if (current != uid)
                {
                    // a new container (pod created or recreated): readiness starts false
                    uid = current;
                    (ready, successes, failures) = (false, 0, 0);
                    if (uid is not null)
                    {
                        api.SetContainerReady(ns, pod, uid, container, false);
                    }

                    delay = settings.InitialDelay;
                }

                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, api._time, ct).ConfigureAwait(false);
                }

                delay = settings.Period;
                if (uid is null)
                {
                    continue;
                }

                if (await ProbeOnceAsync(ct).ConfigureAwait(false))
                {
                    (successes, failures) = (successes + 1, 0);
                    if (!ready && successes >= settings.SuccessThreshold)
                    {
                        ready = true;
                        api.SetContainerReady(ns, pod, uid, container, true);
                    }
                }
                else
                {
                    (successes, failures) = (0, failures + 1);
                    if (ready && failures >= settings.FailureThreshold)
                    {
                        ready = false;
                        api.SetContainerReady(ns, pod, uid, container, false);
                    }
                }
            }
        }

        private async Task<bool> ProbeOnceAsync(CancellationToken ct)
        {
            using var timeout = new CancellationTokenSource(settings.Timeout, api._time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.ConnectionClose = true; // the kubelet's HTTP probes do not keep connections
                request.Headers.UserAgent.ParseAdd("kube-probe/1.33");
                using var response = await api._probeClient!.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
                return (int)response.StatusCode is >= 200 and < 400;
            }
            catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                return false;
            }
        }
    }
}
