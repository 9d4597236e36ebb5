using System.Globalization;
using System.Text;
using k8s.Models;
using RedisSidecars.PodTests.Kubelet;

namespace RedisSidecars.PodTests.Harness;

/// <summary>A pod volume made ready for mounting: a host directory (bind), a Docker volume, and whether it is always read-only.</summary>
public sealed record PreparedVolume(string Type, string Source, bool AlwaysReadOnly);

public sealed partial class PodCluster
{
    const string ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
    static readonly int DefaultFileMode = Convert.ToInt32("644", 8);

    /// <summary>
    /// The ServiceAccount admission plugin's part: unless the pod or its ServiceAccount says
    /// automountServiceAccountToken: false, a projected kube-api-access volume (token, kube-root-ca.crt, namespace)
    /// is added and mounted in every container that does not mount that path itself.
    /// </summary>
    void AutomountServiceAccount(V1PodSpec spec)
    {
        var accountName = spec.ServiceAccountName ?? "default";
        var account = Overlay.All<V1ServiceAccount>().FirstOrDefault(a => a.Metadata.Name == accountName);
        if ((spec.AutomountServiceAccountToken ?? account?.AutomountServiceAccountToken ?? true) == false) return;
        var name = $"kube-api-access-{Guid.NewGuid().ToString("N")[..5]}";
        spec.Volumes ??= [];
        spec.Volumes.Add(new V1Volume
        {
            Name = name,
            Projected = new V1ProjectedVolumeSource
            {
                DefaultMode = DefaultFileMode,
                Sources =
                [
                    new V1VolumeProjection { ServiceAccountToken = new V1ServiceAccountTokenProjection { Path = "token", ExpirationSeconds = 3607 } },
                    new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = "kube-root-ca.crt", Items = [new V1KeyToPath { Key = "ca.crt", Path = "ca.crt" }] } },
                    new V1VolumeProjection { DownwardAPI = new V1DownwardAPIProjection { Items = [new V1DownwardAPIVolumeFile { Path = "namespace", FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } }] } },
                ],
            },
        });
        foreach (var c in (spec.InitContainers ?? []).Concat(spec.Containers))
        {
            c.VolumeMounts ??= [];
            if (c.VolumeMounts.All(m => m.MountPath != ServiceAccountMountPath))
                c.VolumeMounts.Add(new V1VolumeMount { Name = name, MountPath = ServiceAccountMountPath, ReadOnlyProperty = true });
        }
    }

    /// <summary>Makes every volume of the pod (and the StatefulSet's claims) ready to mount, with the kubelet's modes and fsGroup ownership.</summary>
    async Task<Dictionary<string, PreparedVolume>> PrepareVolumesAsync(RunningPod pod, IReadOnlyDictionary<string, string> fields, IEnumerable<V1PersistentVolumeClaim> claimTemplates)
    {
        var prepared = new Dictionary<string, PreparedVolume>(StringComparer.Ordinal);
        var psc = pod.Spec.SecurityContext;
        var fsGroup = psc?.FsGroup is { } g ? (int)g : (int?)null;
        var onRootMismatch = psc?.FsGroupChangePolicy == "OnRootMismatch";
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            if (volume.EmptyDir is { } emptyDir)
            {
                var name = $"{prefix}-{pod.Name}-{pod.Uid[..8]}-{volume.Name}";
                if (emptyDir.Medium == "Memory")
                {
                    var size = emptyDir.SizeLimit?.ToInt64() ?? 64L * 1024 * 1024;
                    var mode = fsGroup is null ? "0777" : "2777";
                    await Docker.RunAsync(["volume", "create", .. LabelArgs(pod.FullName), "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                        "--opt", $"o=size={size.ToString(CultureInfo.InvariantCulture)},mode={mode}{(fsGroup is { } fg ? $",gid={fg.ToString(CultureInfo.InvariantCulture)}" : "")}", name]);
                }
                else
                {
                    await Docker.RunAsync(["volume", "create", .. LabelArgs(pod.FullName), name]);
                    var path = await MountpointAsync(name);
                    File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("777", 8)); // emptyDir is world-writable
                    if (fsGroup is { } group) VolumeFiles.ApplyFsGroup(path, group, readOnly: false, onRootMismatch: false);
                }
                pod.PodVolumes.Add(name);
                prepared[volume.Name] = new PreparedVolume("volume", name, false);
            }
            else if (volume.PersistentVolumeClaim is { } claim)
            {
                prepared[volume.Name] = await ClaimAsync(pod, claim.ClaimName, fsGroup, onRootMismatch, claim.ReadOnlyProperty == true);
            }
            else if (FilesOf(volume, fields) is { } files)
            {
                var dir = Path.Combine(pod.HostDir, "volumes", volume.Name);
                VolumeFiles.WriteAtomically(dir, files, DateTimeOffset.UtcNow);
                File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("777", 8));
                if (fsGroup is { } group) VolumeFiles.ApplyFsGroup(dir, group, readOnly: true, onRootMismatch: false);
                prepared[volume.Name] = new PreparedVolume("bind", dir, true);
            }
            else
            {
                throw new NotSupportedException($"pod {pod.FullName}: volume {volume.Name} is of a kind the harness does not model (emptyDir, PVC, configMap, secret, projected, downwardAPI)");
            }
        }
        // volumeClaimTemplates: the StatefulSet's claim <template>-<pod>, outliving the pod.
        foreach (var template in claimTemplates)
            prepared[template.Metadata.Name] = await ClaimAsync(pod, $"{template.Metadata.Name}-{pod.Name}", fsGroup, onRootMismatch, false);
        return prepared;
    }

    /// <summary>A PersistentVolumeClaim: a Docker volume named after it, created on first use and kept until the cluster is disposed.</summary>
    async Task<PreparedVolume> ClaimAsync(RunningPod pod, string claimName, int? fsGroup, bool onRootMismatch, bool readOnly)
    {
        var name = $"{prefix}-pvc-{pod.Namespace}-{claimName}";
        await Docker.RunAsync(["volume", "create", .. LabelArgs(), name]);
        if (fsGroup is { } group) VolumeFiles.ApplyFsGroup(await MountpointAsync(name), group, readOnly: false, onRootMismatch);
        pod.Claims.Add(name);
        return new PreparedVolume("volume", name, readOnly);
    }

    /// <summary>The Docker volumes behind a pod's claims.</summary>
    public IReadOnlyList<string> ClaimsOf(RunningPod pod) => pod.Claims;

    /// <summary>Where a claim's files are on this host.</summary>
    public Task<string> ClaimPathAsync(string claimVolume) => MountpointAsync(claimVolume);

    static Task<string> MountpointAsync(string volume) => Docker.RunAsync(["volume", "inspect", "-f", "{{.Mountpoint}}", volume]);

    /// <summary>The files of a ConfigMap, Secret, projected or downward-API volume (items, modes, optional sources); null for other kinds.</summary>
    List<VolumeFile>? FilesOf(V1Volume volume, IReadOnlyDictionary<string, string> fields)
    {
        if (volume.ConfigMap is { } cm)
            return FromConfigMap(cm.Name, cm.Items, cm.DefaultMode ?? DefaultFileMode, cm.Optional == true);
        if (volume.Secret is { } secret)
            return FromSecret(secret.SecretName, secret.Items, secret.DefaultMode ?? DefaultFileMode, secret.Optional == true);
        if (volume.DownwardAPI is { } downward)
            return [.. (downward.Items ?? []).Select(i => FromField(i, fields, downward.DefaultMode ?? DefaultFileMode))];
        if (volume.Projected is { } projected)
        {
            var mode = projected.DefaultMode ?? DefaultFileMode;
            var files = new List<VolumeFile>();
            foreach (var source in projected.Sources ?? [])
            {
                if (source.ConfigMap is { } pcm) files.AddRange(FromConfigMap(pcm.Name, pcm.Items, mode, pcm.Optional == true));
                else if (source.Secret is { } ps) files.AddRange(FromSecret(ps.Name, ps.Items, mode, ps.Optional == true));
                else if (source.DownwardAPI is { } pd) files.AddRange((pd.Items ?? []).Select(i => FromField(i, fields, mode)));
                else if (source.ServiceAccountToken is { } token) files.Add(new VolumeFile(token.Path, Encoding.UTF8.GetBytes(Api.Token), mode));
                else throw new NotSupportedException($"volume {volume.Name}: a projected source the harness does not model");
            }
            return files;
        }
        return null;
    }

    List<VolumeFile> FromConfigMap(string name, IList<V1KeyToPath>? items, int mode, bool optional)
    {
        var cm = ConfigMap(name);
        if (cm is null) return optional ? [] : throw new InvalidOperationException($"MountVolume.SetUp failed: configmap \"{name}\" not found");
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (k, v) in cm.Data ?? new Dictionary<string, string>()) data[k] = Encoding.UTF8.GetBytes(v);
        foreach (var (k, v) in cm.BinaryData ?? new Dictionary<string, byte[]>()) data[k] = v;
        return Project(data, items, mode, $"configmap {name}");
    }

    List<VolumeFile> FromSecret(string name, IList<V1KeyToPath>? items, int mode, bool optional)
    {
        var secret = Secret(name);
        if (secret is null) return optional ? [] : throw new InvalidOperationException($"MountVolume.SetUp failed: secret \"{name}\" not found");
        return Project(ContainerEnvironment.SecretData(secret), items, mode, $"secret {name}");
    }

    static List<VolumeFile> Project(IReadOnlyDictionary<string, byte[]> data, IList<V1KeyToPath>? items, int mode, string what)
    {
        if (items is not { Count: > 0 }) return [.. data.Select(kv => new VolumeFile(kv.Key, kv.Value, mode))];
        return [.. items.Select(i => data.TryGetValue(i.Key, out var bytes)
            ? new VolumeFile(i.Path, bytes, i.Mode ?? mode)
            : throw new InvalidOperationException($"MountVolume.SetUp failed: {what} has no key {i.Key}"))];
    }

    static VolumeFile FromField(V1DownwardAPIVolumeFile item, IReadOnlyDictionary<string, string> fields, int mode)
    {
        var path = item.FieldRef?.FieldPath ?? throw new NotSupportedException($"downwardAPI item {item.Path}: only fieldRef is modelled");
        return fields.TryGetValue(path, out var value)
            ? new VolumeFile(item.Path, Encoding.UTF8.GetBytes(value), item.Mode ?? mode)
            : throw new NotSupportedException($"downwardAPI item {item.Path}: fieldPath {path} is not modelled");
    }
}
