using System.Globalization;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>
/// The one way the sidecar and <c>verify</c> read the StatefulSet's pods and the StatefulSet from the API:
/// pods by the label every StatefulSet pod carries with its own name (<c>statefulset.kubernetes.io/pod-name in
/// (…)</c>), the StatefulSet by <c>fieldSelector=metadata.name=…</c> (what RBAC resourceNames allow for list/watch).
/// </summary>
public static class StatefulSetPods
{
    /// <summary>The StatefulSet's name: the pod names' stem (<c>redis</c> for <c>redis-0</c>).</summary>
    public static string StatefulSetName(SidecarSettings settings)
    {
        var first = settings.PodNames.Count > 0 ? settings.PodNames[0] : settings.Common.PodName ?? "redis-0";
        var dash = first.LastIndexOf('-');
        return dash > 0 ? first[..dash] : first;
    }

    public static string PodSelector(IReadOnlyList<string> podNames) => $"{PodFacts.PodNameLabel} in ({string.Join(",", podNames)})";

    public static async Task<(IReadOnlyList<PodObject> Items, string ResourceVersion)> ListPodsAsync(
        KubeApi client, string @namespace, IReadOnlyList<string> podNames, CancellationToken ct)
    {
        var list = await KubeHttp.SendAsync(client, HttpMethod.Get,
            $"api/v1/namespaces/{KubeHttp.Escape(@namespace)}/pods?labelSelector={KubeHttp.Escape(PodSelector(podNames))}", ApiJson.Default.PodList, null, null, ct).ConfigureAwait(false);
        return ([.. list.Items ?? []], list.Metadata?.ResourceVersion ?? "");
    }

    public static string WatchPodsUri(string @namespace, IReadOnlyList<string> podNames, string resourceVersion, int timeoutSeconds) =>
        $"api/v1/namespaces/{Uri.EscapeDataString(@namespace)}/pods?labelSelector={Uri.EscapeDataString(PodSelector(podNames))}"
        + WatchQuery(resourceVersion, timeoutSeconds);

    public static async Task<(IReadOnlyList<StatefulSetObject> Items, string ResourceVersion)> ListStatefulSetAsync(
        KubeApi client, string @namespace, string name, CancellationToken ct)
    {
        var list = await KubeHttp.SendAsync(client, HttpMethod.Get,
            $"apis/apps/v1/namespaces/{KubeHttp.Escape(@namespace)}/statefulsets?fieldSelector={KubeHttp.Escape($"metadata.name={name}")}", ApiJson.Default.StatefulSetList, null, null, ct).ConfigureAwait(false);
        return ([.. list.Items ?? []], list.Metadata?.ResourceVersion ?? "");
    }

    public static string WatchStatefulSetUri(string @namespace, string name, string resourceVersion, int timeoutSeconds) =>
        $"apis/apps/v1/namespaces/{Uri.EscapeDataString(@namespace)}/statefulsets?fieldSelector={Uri.EscapeDataString($"metadata.name={name}")}"
        + WatchQuery(resourceVersion, timeoutSeconds);

    static string WatchQuery(string resourceVersion, int timeoutSeconds) =>
        $"&watch=true&allowWatchBookmarks=true&resourceVersion={Uri.EscapeDataString(resourceVersion)}&timeoutSeconds={timeoutSeconds.ToString(CultureInfo.InvariantCulture)}";
}
