using k8s.Models;
using RedisSidecars.PodTests.Kubelet;

namespace RedisSidecars.PodTests.Harness;

/// <summary>One container of a running pod: its spec, the Docker container playing it, and how it ended.</summary>
public sealed class PodContainer(V1Container spec, bool isInit, string dockerName, IReadOnlyList<KeyValuePair<string, string>> env)
{
    public V1Container Spec { get; } = spec;
    public string Name => Spec.Name;
    public bool IsInit { get; } = isInit;
    /// <summary>A native sidecar: an init container with restartPolicy Always, running beside the main containers.</summary>
    public bool IsSidecar => IsInit && Spec.RestartPolicy == "Always";
    public string DockerName { get; } = dockerName;
    /// <summary>The environment the kubelet gave it (for assertions on service links).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; } = env;
    public bool Created { get; set; }
    /// <summary>Set once it exited (an init container's completion, a kill, or the pod's deletion).</summary>
    public ContainerState? Ended { get; set; }
    /// <summary>Its logs, saved before the container is removed.</summary>
    public string? FinalLogs { get; set; }
    public override string ToString() => $"{Name}{(IsSidecar ? " (sidecar)" : IsInit ? " (init)" : "")}";
}

/// <summary>A pod the harness runs: the API object's identity, the pause container holding its network, its containers.</summary>
public sealed class RunningPod(string name, string @namespace, V1PodSpec spec, IDictionary<string, string> labels, string uid, string hostDir)
{
    public string Name { get; } = name;
    public string Namespace { get; } = @namespace;
    public V1PodSpec Spec { get; } = spec;
    public IDictionary<string, string> TemplateLabels { get; } = labels;
    public string Uid { get; } = uid;
    public string HostDir { get; } = hostDir;
    public string Hostname => Spec.Hostname ?? Name;
    public string? Subdomain => Spec.Subdomain;
    public string PauseContainer { get; set; } = "";
    public string Ip { get; set; } = "";
    public List<PodContainer> Containers { get; } = [];
    /// <summary>Docker volumes that live and die with the pod (emptyDir).</summary>
    public List<string> PodVolumes { get; } = [];
    /// <summary>Docker volumes of its PersistentVolumeClaims, which outlive it.</summary>
    public List<string> Claims { get; } = [];
    /// <summary>What each preStop hook answered when the pod was deleted, by container.</summary>
    public Dictionary<string, ActionResult> PreStopResults { get; } = [];
    public bool Terminating { get; set; }

    public PodContainer Container(string name) =>
        Containers.SingleOrDefault(c => c.Name == name) ?? throw new InvalidOperationException($"pod {Name} has no container {name}");

    public IEnumerable<PodContainer> MainContainers => Containers.Where(c => !c.IsInit);

    public string FullName => $"{Namespace}/{Name}";
    public override string ToString() => FullName;
}

/// <summary>A pod that did not start: which container, how it ended, its logs (the kubelet's CrashLoopBackOff/Init:Error).</summary>
public sealed class PodStartException(RunningPod pod, PodContainer container, int? exitCode, string reason, string logs)
    : Exception($"pod {pod.FullName}: container {container} {reason}{(exitCode is { } c ? $" (exit {c})" : "")}\n--- {container.Name} logs ---\n{logs}")
{
    public RunningPod Pod { get; } = pod;
    public PodContainer Container { get; } = container;
    public int? ExitCode { get; } = exitCode;
    public string Logs { get; } = logs;
}
