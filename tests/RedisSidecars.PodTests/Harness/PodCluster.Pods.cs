using System.Diagnostics;
using System.Globalization;
using System.Text;
using k8s;
using k8s.Models;
using RedisSidecars.PodTests.Kubelet;

namespace RedisSidecars.PodTests.Harness;

/// <summary>How a test varies a pod from its template: another namespace, service links forced on or off.</summary>
public sealed record PodOptions(string? Namespace = null, bool? EnableServiceLinks = null);

/// <summary>How a Job's pod ended: each main container's exit code, and its logs.</summary>
public sealed record JobResult(RunningPod Pod, IReadOnlyDictionary<string, int> ExitCodes, string Logs);

public sealed partial class PodCluster
{
    static readonly TimeSpan InitContainerTimeout = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Creates pod <c>&lt;statefulSet&gt;-&lt;ordinal&gt;</c> as the StatefulSet controller does (template labels plus
    /// statefulset.kubernetes.io/pod-name, pod-index and revision labels, hostname and subdomain = the governing
    /// Service, claims from the volumeClaimTemplates) and runs it. Returns once its main containers are started.
    /// </summary>
    public Task<RunningPod> StartStatefulSetPodAsync(string statefulSet, int ordinal, PodOptions? options = null)
    {
        var sts = Overlay.StatefulSet(statefulSet);
        var name = $"{statefulSet}-{ordinal.ToString(CultureInfo.InvariantCulture)}";
        var spec = Copy(sts.Spec.Template.Spec);
        spec.Hostname = name;
        spec.Subdomain = sts.Spec.ServiceName;
        var labels = new Dictionary<string, string>(sts.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["statefulset.kubernetes.io/pod-name"] = name,
            ["apps.kubernetes.io/pod-index"] = ordinal.ToString(CultureInfo.InvariantCulture),
            ["controller-revision-hash"] = $"{statefulSet}-5d8f7c9b6d",
        };
        return StartPodAsync(name, options?.Namespace ?? sts.Metadata.NamespaceProperty ?? Namespace, spec, labels, sts.Spec.VolumeClaimTemplates ?? [], options);
    }

    /// <summary>Runs a Job's pod to completion (its main containers exit), keeps their logs, removes the pod.</summary>
    public async Task<JobResult> RunJobAsync(string jobName, TimeSpan timeout)
    {
        var job = Overlay.One<V1Job>(jobName);
        var controllerUid = Guid.NewGuid().ToString();
        var name = $"{jobName}-{RandomSuffix()}";
        var labels = new Dictionary<string, string>(job.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            ["batch.kubernetes.io/controller-uid"] = controllerUid,
            ["batch.kubernetes.io/job-name"] = jobName,
            ["controller-uid"] = controllerUid,
            ["job-name"] = jobName,
        };
        var pod = await StartPodAsync(name, job.Metadata.NamespaceProperty ?? Namespace, Copy(job.Spec.Template.Spec), labels, [], null);
        var codes = new Dictionary<string, int>(StringComparer.Ordinal);
        var logs = new StringBuilder();
        foreach (var c in pod.MainContainers)
        {
            var code = await WaitForExitAsync(pod, c, timeout);
            codes[c.Name] = code ?? -1;
            logs.AppendLine($"--- {c.Name} exit={code?.ToString(CultureInfo.InvariantCulture) ?? "timeout"}").Append(await Docker.LogsAsync(c.DockerName, 400));
        }
        await DeletePodAsync(pod, gracePeriodSeconds: 0);
        return new JobResult(pod, codes, logs.ToString());
    }

    static V1PodSpec Copy(V1PodSpec spec) => KubernetesJson.Deserialize<V1PodSpec>(KubernetesJson.Serialize(spec));

    static string RandomSuffix() => string.Create(5, 0, (span, _) =>
    {
        const string Alphabet = "bcdfghjklmnpqrstvwxz2456789";
        for (var i = 0; i < span.Length; i++) span[i] = Alphabet[Random.Shared.Next(Alphabet.Length)];
    });

    /// <summary>
    /// Runs a pod as the kubelet does: registers it in the API double, starts the pause container (network and IPC),
    /// prepares volumes, runs the init containers in order to completion (a native sidecar instead keeps running
    /// and its startupProbe must pass before the next one starts), then starts the main containers. A container
    /// that fails throws <see cref="PodStartException"/> with its logs; the pod is removed first.
    /// </summary>
    public async Task<RunningPod> StartPodAsync(string name, string ns, V1PodSpec spec, IDictionary<string, string> labels,
        IEnumerable<V1PersistentVolumeClaim> claimTemplates, PodOptions? options)
    {
        if (options?.EnableServiceLinks is { } links) spec.EnableServiceLinks = links;
        AutomountServiceAccount(spec);
        var uid = Guid.NewGuid().ToString();
        var hostDir = Directory.CreateDirectory(Path.Combine(HostRoot, ns, $"{name}-{uid[..8]}")).FullName;
        var pod = new RunningPod(name, ns, spec, labels, uid, hostDir);
        if (!pods.TryAdd(pod.FullName, pod)) throw new InvalidOperationException($"pod {pod.FullName} already runs");
        try
        {
            if (Api.GetPod(ns, name) is not null) Api.RemovePod(ns, name);
            Api.AddPod(ns, name, new Dictionary<string, string>(labels), (spec.ReadinessGates ?? []).Select(g => g.ConditionType));

            var docker = $"{prefix}-{ns}-{name}-{uid[..8]}";
            pod.PauseContainer = await Docker.RunAsync(["run", "--detach", "--pull", "never", "--name", $"{docker}-pause", .. LabelArgs(pod.FullName),
                "--network", Network, "--ipc", "shareable", "--hostname", pod.Hostname, "--user", "65535:65535", "--read-only",
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges", Images.Pause]);
            pod.Ip = await Docker.RunAsync(["inspect", "-f", $"{{{{(index .NetworkSettings.Networks \"{Network}\").IPAddress}}}}", pod.PauseContainer]);

            var fields = PodFields(pod);
            var hostFiles = WriteHostFiles(pod);
            var volumes = await PrepareVolumesAsync(pod, fields, claimTemplates);
            var serviceEnv = ContainerEnvironment.ServiceEnvironment(ns, spec.EnableServiceLinks ?? true, ServiceLinks());
            var sources = new EnvironmentSources(fields, ConfigMap, Secret);
            foreach (var (container, isInit) in (spec.InitContainers ?? []).Select(c => (c, true)).Concat(spec.Containers.Select(c => (c, false))))
            {
                var env = ContainerEnvironment.Build(container, serviceEnv, sources);
                var pc = new PodContainer(container, isInit, $"{docker}-{container.Name}", env);
                pod.Containers.Add(pc);
            }

            foreach (var c in pod.Containers.Where(c => c.IsInit))
            {
                await CreateContainerAsync(pod, c, volumes, hostFiles);
                if (c.IsSidecar) await WaitForStartupAsync(pod, c);
                else
                {
                    var code = await WaitForExitAsync(pod, c, InitContainerTimeout);
                    if (code != 0) throw new PodStartException(pod, c, code, code is null ? $"did not finish within {InitContainerTimeout.TotalSeconds:0}s" : "failed", await Docker.LogsAsync(c.DockerName, 400));
                }
            }
            foreach (var c in pod.MainContainers)
            {
                await CreateContainerAsync(pod, c, volumes, hostFiles);
                if (c.Spec.Lifecycle?.PostStart is { } postStart)
                {
                    var result = await Prober.HookAsync(pod.Ip, c.Spec, c.DockerName, postStart, TimeSpan.FromSeconds(30));
                    if (!result.Success) throw new PodStartException(pod, c, null, $"postStart hook failed: {result.Detail}", await Docker.LogsAsync(c.DockerName, 400));
                }
            }
            return pod;
        }
        catch
        {
            await RemovePodAsync(pod);
            throw;
        }
    }

    async Task CreateContainerAsync(RunningPod pod, PodContainer c, IReadOnlyDictionary<string, PreparedVolume> volumes, IReadOnlyList<ContainerMount> hostFiles)
    {
        var image = Images.For(c.Spec.Image);
        if (DockerRunArgs.RunAsNonRootViolation(pod.Spec.SecurityContext, c.Spec.SecurityContext, c.Name, await ImageUserAsync(image)) is { } violation)
            throw new PodStartException(pod, c, null, $"CreateContainerConfigError: {violation}", "");
        var mounts = new List<ContainerMount>(hostFiles);
        foreach (var m in c.Spec.VolumeMounts ?? [])
        {
            if (!string.IsNullOrEmpty(m.SubPath) || !string.IsNullOrEmpty(m.SubPathExpr))
                throw new NotSupportedException($"{pod.FullName}/{c.Name}: subPath mounts are not modelled");
            var v = volumes.TryGetValue(m.Name, out var found) ? found
                : throw new PodStartException(pod, c, null, $"mounts volume {m.Name}, which the pod does not declare", "");
            mounts.Add(new ContainerMount(v.Type, v.Source, m.MountPath, v.AlwaysReadOnly || m.ReadOnlyProperty == true));
        }
        var args = DockerRunArgs.Build(c.DockerName, Labels(pod.FullName), pod.PauseContainer, pod.Spec, c.Spec, image, c.Env, mounts);
        await Docker.RunAsync(args);
        c.Created = true;
    }

    /// <summary>A native sidecar: its startupProbe (initialDelay, period, failureThreshold) must pass while it keeps running.</summary>
    async Task WaitForStartupAsync(RunningPod pod, PodContainer c)
    {
        if (c.Spec.StartupProbe is not { } probe)
        {
            if (await Docker.StateAsync(c.DockerName) is { Running: false } s)
                throw new PodStartException(pod, c, s.ExitCode, "exited at start", await Docker.LogsAsync(c.DockerName, 400));
            return;
        }
        await Task.Delay(TimeSpan.FromSeconds(probe.InitialDelaySeconds ?? 0));
        var threshold = probe.FailureThreshold ?? 3;
        for (var attempt = 1; ; attempt++)
        {
            var state = await Docker.StateAsync(c.DockerName);
            if (state is not { Running: true })
            {
                c.Ended = state;
                throw new PodStartException(pod, c, state?.ExitCode, "exited before its startupProbe passed", await Docker.LogsAsync(c.DockerName, 400));
            }
            var result = await Prober.ProbeAsync(pod.Ip, c.Spec, c.DockerName, probe);
            if (result.Success) return;
            if (attempt >= threshold)
                throw new PodStartException(pod, c, null, $"startupProbe failed {threshold} times: {result.Detail}", await Docker.LogsAsync(c.DockerName, 400));
            await Task.Delay(TimeSpan.FromSeconds(probe.PeriodSeconds ?? 10));
        }
    }

    /// <summary>Waits for a container to exit; its exit code, or null when it still runs after <paramref name="timeout"/>.</summary>
    public static async Task<int?> WaitForExitAsync(RunningPod pod, PodContainer c, TimeSpan timeout)
    {
        _ = pod;
        try
        {
            var (code, stdout, stderr) = await Docker.TryAsync(["wait", c.DockerName], timeout);
            if (code != 0) throw new DockerException($"docker wait {c.DockerName}: {stderr.Trim()}");
            c.Ended = await Docker.StateAsync(c.DockerName);
            return int.Parse(stdout.Trim(), CultureInfo.InvariantCulture);
        }
        catch (TimeoutException) { return null; }
    }

    /// <summary>The downward API's fields of a pod.</summary>
    Dictionary<string, string> PodFields(RunningPod pod)
    {
        var labels = string.Join('\n', pod.TemplateLabels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{kv.Value}\""));
        var fields = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["metadata.name"] = pod.Name,
            ["metadata.namespace"] = pod.Namespace,
            ["metadata.uid"] = pod.Uid,
            ["metadata.labels"] = labels,
            ["metadata.annotations"] = "",
            ["spec.nodeName"] = "node-1",
            ["spec.serviceAccountName"] = pod.Spec.ServiceAccountName ?? "default",
            ["status.hostIP"] = Gateway.ToString(),
            ["status.hostIPs"] = Gateway.ToString(),
            ["status.podIP"] = pod.Ip,
            ["status.podIPs"] = pod.Ip,
        };
        foreach (var (k, v) in pod.TemplateLabels) fields[$"metadata.labels['{k}']"] = v;
        return fields;
    }

    /// <summary>/etc/hosts (the kubelet's managed file), /etc/resolv.conf (cluster DNS, search path, ndots:5) and /etc/hostname.</summary>
    IReadOnlyList<ContainerMount> WriteHostFiles(RunningPod pod)
    {
        var fqdn = pod.Subdomain is null ? null : $"{pod.Hostname}.{pod.Subdomain}.{pod.Namespace}.svc.{ClusterDomain}";
        var hosts = new StringBuilder()
            .Append("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
            .Append("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
            .Append(fqdn is null ? $"{pod.Ip}\t{pod.Hostname}\n" : $"{pod.Ip}\t{fqdn}\t{pod.Hostname}\n").ToString();
        var resolv = $"search {pod.Namespace}.svc.{ClusterDomain} svc.{ClusterDomain} {ClusterDomain}\nnameserver {Gateway}\noptions ndots:5\n";
        var files = new[] { ("hosts", hosts), ("resolv.conf", resolv), ("hostname", pod.Hostname + "\n") };
        var mounts = new List<ContainerMount>();
        foreach (var (file, text) in files)
        {
            var path = Path.Combine(pod.HostDir, file);
            File.WriteAllText(path, text);
            File.SetUnixFileMode(path, (UnixFileMode)DefaultFileMode);
            mounts.Add(new ContainerMount("bind", path, $"/etc/{file}", ReadOnly: true));
        }
        return mounts;
    }

    /// <summary>kill -9 (or another signal) to one container, as a crash or the OOM killer would.</summary>
    public async Task KillContainerAsync(RunningPod pod, string container, string signal = "KILL")
    {
        var c = pod.Container(container);
        await Docker.RunAsync(["kill", "--signal", signal, c.DockerName]);
        if (signal == "KILL") await WaitForExitAsync(pod, c, TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Deletes a pod as the kubelet does: the preStop hooks of the running main containers (concurrently), SIGTERM,
    /// SIGKILL when terminationGracePeriodSeconds (counted from the start, hooks included) runs out; then the native
    /// sidecars in reverse order; then the pause container, the pod's emptyDirs and its API object. Claims stay.
    /// </summary>
    public async Task DeletePodAsync(RunningPod pod, long? gracePeriodSeconds = null)
    {
        pod.Terminating = true;
        var grace = TimeSpan.FromSeconds(gracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? 30);
        var clock = Stopwatch.StartNew();
        TimeSpan Left() => grace - clock.Elapsed > TimeSpan.Zero ? grace - clock.Elapsed : TimeSpan.Zero;

        var running = new List<PodContainer>();
        foreach (var c in pod.MainContainers.Where(c => c.Created && c.Ended is null))
            if (await Docker.StateAsync(c.DockerName) is { Running: true }) running.Add(c);
        await Task.WhenAll(running.Where(c => c.Spec.Lifecycle?.PreStop is not null).Select(async c =>
        {
            var result = await Prober.HookAsync(pod.Ip, c.Spec, c.DockerName, c.Spec.Lifecycle.PreStop, Left());
            lock (pod.PreStopResults) pod.PreStopResults[c.Name] = result;
        }));
        await Task.WhenAll(running.Select(c => StopAsync(c, Left())));
        foreach (var c in pod.Containers.Where(c => c.IsSidecar && c.Created && c.Ended is null).Reverse())
        {
            if (c.Spec.Lifecycle?.PreStop is { } hook)
                pod.PreStopResults[c.Name] = await Prober.HookAsync(pod.Ip, c.Spec, c.DockerName, hook, Left());
            await StopAsync(c, Left() > TimeSpan.FromSeconds(2) ? Left() : TimeSpan.FromSeconds(2));
        }
        await RemovePodAsync(pod);
    }

    static async Task StopAsync(PodContainer c, TimeSpan grace)
    {
        var seconds = (int)Math.Ceiling(grace.TotalSeconds);
        await Docker.TryAsync(["stop", "--time", seconds.ToString(CultureInfo.InvariantCulture), c.DockerName], grace + TimeSpan.FromSeconds(30));
        c.Ended = await Docker.StateAsync(c.DockerName);
    }

    /// <summary>Saves every container's logs, then removes the containers, the pause container, the pod's own volumes, files and API object.</summary>
    async Task RemovePodAsync(RunningPod pod)
    {
        pod.Terminating = true;
        foreach (var c in pod.Containers.Where(c => c.Created))
        {
            c.Ended ??= await Docker.StateAsync(c.DockerName);
            c.FinalLogs = await Docker.LogsAsync(c.DockerName, 400);
            archivedLogs[$"{pod.FullName}/{c.Name} (uid {pod.Uid[..8]}, exit {c.Ended?.ExitCode.ToString(CultureInfo.InvariantCulture) ?? "?"})"] = c.FinalLogs;
        }
        var containers = pod.Containers.Where(c => c.Created).Select(c => c.DockerName).ToList();
        if (pod.PauseContainer.Length > 0) containers.Add(pod.PauseContainer);
        if (containers.Count > 0) await Docker.TryAsync(["rm", "--force", .. containers], TimeSpan.FromMinutes(2));
        if (pod.PodVolumes.Count > 0) await Docker.TryAsync(["volume", "rm", "--force", .. pod.PodVolumes]);
        try { Directory.Delete(pod.HostDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        Api.RemovePod(pod.Namespace, pod.Name);
        pods.TryRemove(pod.FullName, out _);
    }

    /// <summary>Runs one of a container's probes once (readiness, liveness or startup).</summary>
    public Task<ActionResult> ProbeAsync(RunningPod pod, string container, Func<V1Container, V1Probe?> which)
    {
        var c = pod.Container(container);
        var probe = which(c.Spec) ?? throw new InvalidOperationException($"{pod.FullName}/{container} has no such probe");
        return Prober.ProbeAsync(pod.Ip, c.Spec, c.DockerName, probe);
    }
}
