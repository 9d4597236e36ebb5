using System.Globalization;
using k8s.Models;

namespace RedisSidecars.PodTests.Kubelet;

/// <summary>A mount as the runtime gets it: a host directory or a Docker volume (or tmpfs) at a path in the container.</summary>
public sealed record ContainerMount(string Type, string? Source, string Target, bool ReadOnly, long? TmpfsBytes = null)
{
    public string ToDockerMount()
    {
        var spec = $"type={Type},dst={Target}";
        if (Source is not null) spec = $"type={Type},src={Source},dst={Target}";
        if (ReadOnly) spec += ",readonly";
        if (Type == "volume") spec += ",volume-nocopy"; // a pod volume starts empty: never seeded from the image
        if (TmpfsBytes is { } size) spec += $",tmpfs-size={size.ToString(CultureInfo.InvariantCulture)}";
        return spec;
    }
}

/// <summary>
/// <c>docker run</c> arguments for one container of a pod, as the kubelet and a CRI runtime would set it up: in the
/// pod's network and IPC namespaces (held by its pause container), the effective securityContext (the container's
/// fields over the pod's: runAsUser/runAsGroup, fsGroup and supplementalGroups as extra groups,
/// readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation, seccomp), memory/CPU limits, mounts, the
/// environment, and command/args with <c>$(VAR)</c> expanded (command replaces the image's ENTRYPOINT and CMD, args
/// replace CMD).
/// </summary>
public static class DockerRunArgs
{
    /// <summary>The user the container runs as: runAsUser[:runAsGroup] from the container or the pod; null = the image's USER.</summary>
    public static string? User(V1PodSecurityContext? pod, V1SecurityContext? container)
    {
        var uid = container?.RunAsUser ?? pod?.RunAsUser;
        var gid = container?.RunAsGroup ?? pod?.RunAsGroup;
        if (uid is null) return gid is null ? null : throw new NotSupportedException("runAsGroup without runAsUser is not modelled");
        return gid is null ? uid.Value.ToString(CultureInfo.InvariantCulture) : $"{uid.Value.ToString(CultureInfo.InvariantCulture)}:{gid.Value.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// The kubelet's runAsNonRoot check (verifyRunAsNonRoot): with runAsNonRoot the container must run as a
    /// non-zero uid, and without runAsUser the image's USER must be numeric and non-zero. Null = allowed, else the error.
    /// </summary>
    public static string? RunAsNonRootViolation(V1PodSecurityContext? pod, V1SecurityContext? container, string containerName, string imageUser)
    {
        if ((container?.RunAsNonRoot ?? pod?.RunAsNonRoot) != true) return null;
        if ((container?.RunAsUser ?? pod?.RunAsUser) is { } uid)
            return uid == 0 ? $"container {containerName}'s runAsUser breaks non-root policy" : null;
        var user = imageUser.Split(':')[0];
        if (user.Length == 0 || user == "root") return $"container {containerName} has runAsNonRoot and image will run as root";
        if (!long.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out var imageUid))
            return $"container {containerName} has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root";
        return imageUid == 0 ? $"container {containerName} has runAsNonRoot and image will run as root" : null;
    }

    public static IReadOnlyList<string> Build(
        string dockerName, IReadOnlyDictionary<string, string> labels, string pauseContainer, V1PodSpec pod, V1Container container,
        string image, IReadOnlyList<KeyValuePair<string, string>> env, IReadOnlyList<ContainerMount> mounts)
    {
        var args = new List<string> { "run", "--detach", "--pull", "never", "--name", dockerName };
        foreach (var (k, v) in labels) args.AddRange(["--label", $"{k}={v}"]);
        args.AddRange(["--network", $"container:{pauseContainer}", "--ipc", $"container:{pauseContainer}"]);

        var sc = container.SecurityContext;
        var psc = pod.SecurityContext;
        if (User(psc, sc) is { } user) args.AddRange(["--user", user]);
        var groups = new List<long>();
        if (psc?.FsGroup is { } fsGroup) groups.Add(fsGroup);
        groups.AddRange((psc?.SupplementalGroups ?? []).OfType<long>());
        foreach (var g in groups.Distinct()) args.AddRange(["--group-add", g.ToString(CultureInfo.InvariantCulture)]);
        if (sc?.ReadOnlyRootFilesystem == true) args.Add("--read-only");
        if (sc?.Privileged == true) throw new NotSupportedException($"{container.Name}: privileged containers are not modelled");
        foreach (var drop in sc?.Capabilities?.Drop ?? []) args.AddRange(["--cap-drop", drop]);
        foreach (var add in sc?.Capabilities?.Add ?? []) args.AddRange(["--cap-add", add]);
        if (sc?.AllowPrivilegeEscalation == false) args.AddRange(["--security-opt", "no-new-privileges"]);
        var seccomp = sc?.SeccompProfile?.Type ?? psc?.SeccompProfile?.Type;
        if (seccomp == "Unconfined") args.AddRange(["--security-opt", "seccomp=unconfined"]);
        else if (seccomp is not (null or "RuntimeDefault")) throw new NotSupportedException($"{container.Name}: seccomp profile {seccomp} is not modelled");

        var limits = container.Resources?.Limits;
        if (limits is not null && limits.TryGetValue("memory", out var memory))
        {
            var bytes = memory.ToInt64().ToString(CultureInfo.InvariantCulture);
            args.AddRange(["--memory", bytes, "--memory-swap", bytes]); // no swap, as on a kubelet node
        }
        if (limits is not null && limits.TryGetValue("cpu", out var cpu))
            args.AddRange(["--cpus", cpu.ToDecimal().ToString(CultureInfo.InvariantCulture)]);

        foreach (var m in mounts) args.AddRange(["--mount", m.ToDockerMount()]);
        foreach (var (k, v) in env) args.AddRange(["--env", $"{k}={v}"]);

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in env) variables[k] = v;
        var command = (container.Command ?? []).Select(c => ContainerEnvironment.Expand(c, variables)).ToList();
        var arguments = (container.Args ?? []).Select(a => ContainerEnvironment.Expand(a, variables)).ToList();
        if (command.Count > 0) args.AddRange(["--entrypoint", command[0]]);
        args.Add(image);
        if (command.Count > 0) args.AddRange(command.Skip(1));
        args.AddRange(arguments);
        return args;
    }
}
