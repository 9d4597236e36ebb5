using k8s.Models;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E.Cluster;

/// <summary>
/// The suite's own pods (a client, the writers): the server image running a sh script, admitted by the NetworkPolicy
/// through the client label, authenticated as the application user from the application Secret (secretKeyRef: the
/// password never passes through the suite), and within the restricted Pod Security Standard the namespace enforces.
/// </summary>
public static class ClientPods
{
    public const string AppLabel = "app.kubernetes.io/name";
    public const string AppLabelValue = "redis-sidecars-e2e";
    /// <summary>A writable emptyDir (the root filesystem is read-only): the writer's stop file lives here.</summary>
    public const string ScratchDir = "/tmp";

    public static V1Pod Build(DeployedSet set, string name, string script)
    {
        var labels = new Dictionary<string, string> { [AppLabel] = AppLabelValue };
        if (set.ClientLabel is { } client) labels[client.Key] = client.Value;
        V1EnvVar FromSecret(string variable, string key) => new()
        {
            Name = variable,
            ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = set.AppSecret, Key = key } },
        };
        return new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = set.Namespace, Labels = labels },
            Spec = new V1PodSpec
            {
                RestartPolicy = "Never",
                AutomountServiceAccountToken = false,
                EnableServiceLinks = false,
                TerminationGracePeriodSeconds = 1,
                SecurityContext = new V1PodSecurityContext
                {
                    RunAsNonRoot = true,
                    RunAsUser = 999,
                    RunAsGroup = 999,
                    SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                },
                Containers =
                [
                    new V1Container
                    {
                        Name = "e2e",
                        Image = set.Redis.Image,
                        Command = ["sh", "-c", script],
                        Env = [FromSecret(Scripts.UserVariable, DeployedSet.AppUserKey), .. Scripts.PasswordVariables.Select(v => FromSecret(v, DeployedSet.AppPasswordKey))],
                        Resources = new V1ResourceRequirements
                        {
                            Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("50m"), ["memory"] = new("16Mi") },
                            Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("64Mi") },
                        },
                        VolumeMounts = [new V1VolumeMount { Name = "scratch", MountPath = ScratchDir }],
                        SecurityContext = new V1SecurityContext
                        {
                            RunAsNonRoot = true,
                            ReadOnlyRootFilesystem = true,
                            AllowPrivilegeEscalation = false,
                            Capabilities = new V1Capabilities { Drop = ["ALL"] },
                            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
                        },
                    },
                ],
                Volumes = [new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity("1Mi") } }],
            },
        };
    }

    /// <summary>The verify Job again, under a new name: the manifests' own Job template, run after the disruptions.</summary>
    public static V1Job VerifyAgain(DeployedSet set, string name)
    {
        var job = k8s.KubernetesJson.Deserialize<V1Job>(k8s.KubernetesJson.Serialize(set.VerifyJob));
        job.Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = set.Namespace, Labels = job.Metadata.Labels };
        job.Status = null;
        return job;
    }
}
