using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using k8s.Models;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.ManifestTests.Infrastructure;
using RedisSidecars.PodTests.Kubelet;

namespace RedisSidecars.PodTests.Harness;

/// <summary>
/// A one-node "cluster" for rendered manifests, made of Docker: an internal bridge network (no way out), the API
/// double serving HTTPS on the network's gateway as the <c>kubernetes</c> Service, the cluster DNS on the gateway,
/// cluster IPs for the Services (only ever text in service-link variables: the DNS maps a Service name straight to
/// its ready pods, the part of kube-proxy the pods use), and pods run by <see cref="StartPodAsync"/> as the kubelet
/// runs them. Everything it creates carries its owner label and is removed on dispose (and, should this process
/// die, by the next run's sweep).
/// </summary>
public sealed partial class PodCluster : IAsyncDisposable
{
    public const string ClusterDomain = "cluster.local";
    public const string OwnerLabel = "io.redis-sidecars.podtests.owner";
    const int ApiPort = 443;

    readonly ConcurrentDictionary<string, RunningPod> pods = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, string> archivedLogs = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<V1Service>> services = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> clusterIps = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> imageUsers = new(StringComparer.Ordinal);
    readonly string owner;
    readonly string prefix;
    int nextClusterIp = 200;

    PodCluster(RenderedOverlay overlay, Images images, string owner, string hostRoot)
    {
        Overlay = overlay;
        Images = images;
        this.owner = owner;
        prefix = $"rsp{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        HostRoot = hostRoot;
        Namespace = overlay.All<V1StatefulSet>().Select(s => s.Metadata.NamespaceProperty).FirstOrDefault(n => n is not null) ?? "default";
    }

    public RenderedOverlay Overlay { get; }
    public Images Images { get; }
    /// <summary>The namespace the overlay deploys into.</summary>
    public string Namespace { get; }
    public KubeApiServer Api { get; private set; } = null!;
    public string Network { get; private set; } = "";
    public IPAddress Gateway { get; private set; } = IPAddress.None;
    string Subnet24 { get; set; } = "";
    ClusterDns? Dns { get; set; }
    string HostRoot { get; }

    /// <summary>Creates the network, the API double (HTTPS) and the DNS; registers the overlay's Services.</summary>
    public static async Task<PodCluster> StartAsync(RenderedOverlay overlay)
    {
        if (!IsRoot())
            throw new InvalidOperationException("the pod tests play the kubelet (volume ownership, DNS on port 53): run them as root");
        var images = Images.Load();
        var owner = $"{Environment.ProcessId}.{Process.GetCurrentProcess().StartTime.ToUniversalTime().Ticks}";
        await SweepLeftoversAsync();
        var hostRoot = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"redis-sidecars-podtests-{Environment.ProcessId}-{Guid.NewGuid():N}")).FullName;
        var cluster = new PodCluster(overlay, images, owner, hostRoot);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.RemoveEverythingNow();
        try
        {
            await cluster.CreateNetworkAsync();
            cluster.Api = await KubeApiServer.StartAsync(cluster.Gateway, ApiPort, tlsSubjectAltNames:
                ["kubernetes", "kubernetes.default", "kubernetes.default.svc", $"kubernetes.default.svc.{ClusterDomain}"]);
            cluster.Dns = new ClusterDns(cluster.Gateway, cluster.Resolve);
            cluster.AddServices(cluster.Namespace, overlay.All<V1Service>());
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    static bool IsRoot() => File.ReadAllLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?.Split('\t')[1] == "0";

    Dictionary<string, string> Labels(string? pod = null)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { [OwnerLabel] = owner };
        if (pod is not null) labels["io.redis-sidecars.podtests.pod"] = pod;
        return labels;
    }

    string[] LabelArgs(string? pod = null) => [.. Labels(pod).SelectMany(kv => new[] { "--label", $"{kv.Key}={kv.Value}" })];

    async Task CreateNetworkAsync()
    {
        // An internal network: containers reach each other and this host's gateway address (the API double, the
        // DNS), nothing else. A /24 from 172.31.x that no other network uses.
        var start = Random.Shared.Next(0, 200);
        for (var i = 0; i < 200; i++)
        {
            var third = 20 + (start + i) % 200;
            var subnet = $"172.31.{third}";
            var name = $"{prefix}-{third}";
            var (code, _, stderr) = await Docker.TryAsync([
                "network", "create", "--driver", "bridge", "--internal", "--subnet", $"{subnet}.0/24", "--ip-range", $"{subnet}.0/25",
                "--gateway", $"{subnet}.1", .. LabelArgs(), name]);
            if (code == 0)
            {
                Network = name;
                Subnet24 = subnet;
                Gateway = IPAddress.Parse($"{subnet}.1");
                return;
            }
            if (!stderr.Contains("overlap", StringComparison.OrdinalIgnoreCase) && !stderr.Contains("already exists", StringComparison.OrdinalIgnoreCase))
                throw new DockerException($"docker network create failed: {stderr.Trim()}");
        }
        throw new DockerException("no free /24 in 172.31.20-219.0 for the pod network");
    }

    /// <summary>Registers Services in a namespace: ClusterIP ones get an address from the network's upper half.</summary>
    public void AddServices(string ns, IEnumerable<V1Service> list)
    {
        lock (services)
        {
            var mine = services.TryGetValue(ns, out var l) ? l : services[ns] = [];
            foreach (var s in list)
            {
                if (s.Spec.ClusterIP != "None")
                {
                    if (nextClusterIp > 250) throw new InvalidOperationException("more ClusterIP Services than the harness has addresses for");
                    clusterIps[$"{ns}/{s.Metadata.Name}"] = $"{Subnet24}.{nextClusterIp++}";
                }
                mine.Add(s);
            }
        }
    }

    public IReadOnlyList<V1Service> ServicesIn(string ns)
    {
        lock (services) return services.TryGetValue(ns, out var l) ? [.. l] : [];
    }

    /// <summary>Every Service the kubelet knows about, as service links: the namespaces' and the <c>kubernetes</c> Service (the double).</summary>
    IEnumerable<ServiceLink> ServiceLinks()
    {
        yield return new ServiceLink("kubernetes", "default", Gateway.ToString(),
            [new V1ServicePort { Name = "https", Port = ApiPort, Protocol = "TCP" }]);
        lock (services)
        {
            foreach (var (ns, list) in services)
                foreach (var s in list)
                    yield return new ServiceLink(s.Metadata.Name, ns, s.Spec.ClusterIP == "None" ? "None" : clusterIps[$"{ns}/{s.Metadata.Name}"], [.. s.Spec.Ports ?? []]);
        }
    }

    // ---------------------------------------------------------------- DNS

    /// <summary>
    /// Cluster DNS: <c>pod.subdomain.ns.svc</c> → the pod (when a headless Service of that name exists),
    /// <c>service.ns.svc</c> → the IPs of its selected pods (ready ones, or all with publishNotReadyAddresses),
    /// <c>kubernetes.default.svc</c> → the API double; every other name does not exist.
    /// </summary>
    IReadOnlyList<IPAddress>? Resolve(string name)
    {
        var suffix = $".svc.{ClusterDomain}";
        if (!name.EndsWith(suffix, StringComparison.Ordinal)) return null;
        var parts = name[..^suffix.Length].Split('.');
        if (parts is ["kubernetes", "default"]) return [Gateway];
        if (parts is [var serviceName, var ns])
        {
            var service = ServicesIn(ns).FirstOrDefault(s => s.Metadata.Name == serviceName);
            if (service is null) return null;
            return [.. Endpoints(ns, service).Select(p => IPAddress.Parse(p.Ip))];
        }
        if (parts is [var host, var subdomain, var podNs])
        {
            if (!ServicesIn(podNs).Any(s => s.Metadata.Name == subdomain && s.Spec.ClusterIP == "None")) return null;
            var pod = pods.Values.FirstOrDefault(p => p.Namespace == podNs && p.Hostname == host && p.Subdomain == subdomain && p.Ip.Length > 0);
            return pod is null ? null : [IPAddress.Parse(pod.Ip)];
        }
        return null;
    }

    /// <summary>The pods behind a Service now: selected by their current labels (in the double), ready unless publishNotReadyAddresses.</summary>
    public IReadOnlyList<RunningPod> Endpoints(string ns, V1Service service)
    {
        if (service.Spec.Selector is not { Count: > 0 } selector) return [];
        return [.. pods.Values.Where(p => p.Namespace == ns && p.Ip.Length > 0 && !p.Terminating)
            .Where(p => Workloads.Selects(selector, CurrentLabels(p)))
            .Where(p => service.Spec.PublishNotReadyAddresses == true || IsReady(p))];
    }

    IDictionary<string, string> CurrentLabels(RunningPod pod)
    {
        var labels = Api.GetPod(pod.Namespace, pod.Name)?["metadata"]?["labels"]?.AsObject();
        return labels is null ? pod.TemplateLabels : labels.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString() ?? "", StringComparer.Ordinal);
    }

    /// <summary>Ready as the endpoints controller sees it: every main container running and every readiness gate True in the double.</summary>
    public bool IsReady(RunningPod pod)
    {
        if (pod.MainContainers.Any(c => !c.Created || c.Ended is not null)) return false;
        var conditions = Api.GetPod(pod.Namespace, pod.Name)?["status"]?["conditions"]?.AsArray();
        return (pod.Spec.ReadinessGates ?? []).All(g => conditions?.Any(c => c?["type"]?.ToString() == g.ConditionType && c?["status"]?.ToString() == "True") == true);
    }

    // ---------------------------------------------------------------- objects

    public V1ConfigMap? ConfigMap(string name)
    {
        if (name == "kube-root-ca.crt" && Api.CaCertificate is { } ca)
            return new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name }, Data = new Dictionary<string, string> { ["ca.crt"] = ca.ExportCertificatePem() + "\n" } };
        return Overlay.All<V1ConfigMap>().FirstOrDefault(c => c.Metadata.Name == name);
    }

    public V1Secret? Secret(string name) => Overlay.All<V1Secret>().FirstOrDefault(s => s.Metadata.Name == name);

    /// <summary>The first value of a rendered Secret's key (text), e.g. a password the tests log in with.</summary>
    public string SecretValue(string secretName, string key) =>
        Encoding.UTF8.GetString(ContainerEnvironment.SecretData(Secret(secretName) ?? throw new InvalidOperationException($"no Secret {secretName}"))[key]).TrimEnd('\n');

    /// <summary>The user an image runs as (its USER), for the kubelet's runAsNonRoot check.</summary>
    async Task<string> ImageUserAsync(string image)
    {
        lock (imageUsers) if (imageUsers.TryGetValue(image, out var u)) return u;
        var user = await Docker.RunAsync(["image", "inspect", "-f", "{{.Config.User}}", image]);
        lock (imageUsers) imageUsers[image] = user;
        return user;
    }

    public IReadOnlyCollection<RunningPod> Pods => [.. pods.Values];

    public RunningPod Pod(string name, string? ns = null) =>
        pods.TryGetValue($"{ns ?? Namespace}/{name}", out var p) ? p : throw new InvalidOperationException($"no running pod {ns ?? Namespace}/{name}");

    // ---------------------------------------------------------------- diagnostics and cleanup

    /// <summary>Every container's state and log tail (removed ones from their saved logs), and the label timeline: for failure messages.</summary>
    public async Task<string> DiagnosticsAsync(int tail = 40)
    {
        var sb = new StringBuilder();
        foreach (var pod in pods.Values.OrderBy(p => p.FullName, StringComparer.Ordinal))
        {
            sb.AppendLine($"=== pod {pod.FullName} ip={pod.Ip} ready={IsReady(pod)} labels={string.Join(',', CurrentLabels(pod).Select(kv => $"{kv.Key}={kv.Value}"))}");
            foreach (var c in pod.Containers.Where(c => c.Created))
            {
                var state = await Docker.StateAsync(c.DockerName);
                sb.AppendLine($"--- {c} {(state is null ? "gone" : $"{state.Status} exit={state.ExitCode} oom={state.OomKilled}")}");
                sb.Append(LastLines(c.FinalLogs ?? await Docker.LogsAsync(c.DockerName, tail), tail));
            }
        }
        foreach (var (name, logs) in archivedLogs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sb.AppendLine($"--- removed container {name}");
            sb.Append(LastLines(logs, tail));
        }
        sb.AppendLine("=== label changes");
        foreach (var change in Api.Timeline.Changes.Where(c => c.Source != "create"))
            sb.AppendLine($"{change.WallTime:HH:mm:ss.fff} {change.Namespace}/{change.Pod} {change.Key}: {change.OldValue ?? "-"} → {change.NewValue ?? "-"} ({change.Source})");
        return sb.ToString();
    }

    static string LastLines(string text, int count)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - count))) + "\n";
    }

    /// <summary>Removes what an earlier run left behind when its process is gone (a killed test host).</summary>
    static async Task SweepLeftoversAsync()
    {
        foreach (var kind in new[] { "container", "volume", "network" })
        {
            var list = kind == "container"
                ? await Docker.RunAsync(["ps", "-a", "--filter", $"label={OwnerLabel}", "--format", $"{{{{.ID}}}} {{{{.Label \"{OwnerLabel}\"}}}}"])
                : await Docker.RunAsync([kind, "ls", "--filter", $"label={OwnerLabel}", "--format", $"{{{{.Name}}}} {{{{.Label \"{OwnerLabel}\"}}}}"]);
            var dead = list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Where(p => p.Length == 2 && !OwnerAlive(p[1])).Select(p => p[0]).ToList();
            if (dead.Count == 0) continue;
            await Docker.TryAsync(kind == "container" ? ["rm", "-f", .. dead] : [kind, "rm", .. dead]);
        }
    }

    static bool OwnerAlive(string ownerValue)
    {
        var parts = ownerValue.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var pid)) return false;
        try { return Process.GetProcessById(pid).StartTime.ToUniversalTime().Ticks.ToString(CultureInfo.InvariantCulture) == parts[1]; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    int disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        var filter = $"label={OwnerLabel}={owner}";
        var containers = (await Docker.RunAsync(["ps", "-aq", "--filter", filter])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (containers.Length > 0) await Docker.TryAsync(["rm", "-f", "--volumes", .. containers], TimeSpan.FromMinutes(2));
        var volumes = (await Docker.RunAsync(["volume", "ls", "-q", "--filter", filter])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (volumes.Length > 0) await Docker.TryAsync(["volume", "rm", "-f", .. volumes]);
        if (Network.Length > 0) await Docker.TryAsync(["network", "rm", Network]);
        if (Dns is not null) await Dns.DisposeAsync();
        if (Api is not null) await Api.DisposeAsync();
        try { Directory.Delete(HostRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        pods.Clear();
    }

    /// <summary>Last resort on process exit (a test host stopped mid-run): the same removal, synchronously.</summary>
    void RemoveEverythingNow()
    {
        if (Volatile.Read(ref disposed) == 1) return;
        void Run(params string[] args)
        {
            var psi = new ProcessStartInfo("sh", ["-c", $"docker {string.Join(' ', args)} >/dev/null 2>&1"]) { UseShellExecute = false };
            using var p = Process.Start(psi);
            p?.WaitForExit(60_000);
        }
        var filter = $"label={OwnerLabel}={owner}";
        Run("rm", "-f", "--volumes", $"$(docker ps -aq --filter '{filter}')");
        Run("volume", "rm", "-f", $"$(docker volume ls -q --filter '{filter}')");
        if (Network.Length > 0) Run("network", "rm", Network);
        try { Directory.Delete(HostRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>The local images scripts/images.sh built (artifacts/images/images.env) and how the manifests' images map onto them.</summary>
public sealed record Images(string Redis, string Pause, string Init, string Sidecar)
{
    public static Images Load()
    {
        var path = Repo.File("artifacts", "images", "images.env");
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: build the images first with `bash scripts/images.sh` (scripts/test.sh does)");
        var values = File.ReadAllLines(path).Where(l => l.Contains('=', StringComparison.Ordinal) && !l.StartsWith('#'))
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        string Get(string key) => values.TryGetValue(key, out var v) ? v : throw new InvalidOperationException($"{path} has no {key}");
        return new Images(Get("REDIS_IMAGE"), Get("PAUSE_IMAGE"), Get("INIT_IMAGE"), Get("SIDECAR_IMAGE"));
    }

    /// <summary>The local image for a manifest's image: ours exactly as named (it must be the one built), Redis/Valkey → the local Redis.</summary>
    public string For(string manifestImage)
    {
        if (Contract.Program(manifestImage) is { } program)
        {
            var built = program == "redis-init" ? Init : Sidecar;
            return manifestImage == built ? manifestImage
                : throw new InvalidOperationException($"the manifests run {manifestImage}, but scripts/images.sh built {built}: image name or tag differ");
        }
        var repository = Contract.Repository(manifestImage);
        var last = repository[(repository.LastIndexOf('/') + 1)..];
        if (last is "redis" or "valkey") return Redis;
        throw new NotSupportedException($"no local stand-in for image {manifestImage} (scripts/images.sh builds ours and Redis)");
    }
}
