using System.Globalization;
using System.Text.Json.Nodes;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using RedisSidecars.Testing;
using StackExchange.Redis;

namespace RedisSidecars.Demo;

/// <summary>One Redis pod as the table shows it.</summary>
/// <param name="Role">"master", "replica", or what went wrong ("down", "no answer", an error reply).</param>
/// <param name="Link">For a replica: its master and link state from ROLE ("127.0.1.1 connected").</param>
/// <param name="Replicas">For a master: how many replicas ROLE lists.</param>
/// <param name="Label">The role label on the pod in the API double (null: none; "?" API down).</param>
/// <param name="Ready">The readiness-gate condition's status on the pod ("True"/"False"; null: not set).</param>
/// <param name="Readyz">The sidecar's GET /readyz: "200 ready", "503 not ready", "down".</param>
public sealed record PodState(string Name, string Address, string Role, string? Link, bool LinkUp, int Replicas, long? Offset,
    string? Label, string? Ready, string Readyz);

public sealed record SentinelState(string Address, string? Master, long? Epoch, bool FailoverInProgress);

/// <param name="ServiceEndpoints">The master Service's ready endpoints (pods labelled master and Ready, as the double's kubelet
/// probes /readyz); null when the API double does not answer.</param>
public sealed record Snapshot(DateTimeOffset At, PodState[] Pods, SentinelState[] Sentinels, bool ApiUp, IReadOnlyList<string>? ServiceEndpoints)
{
    /// <summary>The master every Sentinel names, or null while they disagree or one does not answer.</summary>
    public string? AgreedMaster =>
        Sentinels.Length > 0 && Sentinels.All(s => s.Master is not null && s.Master == Sentinels[0].Master) ? Sentinels[0].Master : null;

    public long? Epoch => Sentinels.Max(s => s.Epoch);

    public IReadOnlyList<PodState> LabelledMaster => [.. Pods.Where(p => p.Label == SidecarSet.Master)];

    /// <summary>
    /// Null when the pods match <paramref name="master"/> (which <see cref="RedisSet.SettledAsync"/> found settled): it alone
    /// labelled master, every pod's readiness condition True, every sidecar's /readyz ready, the master the Service's one
    /// ready endpoint; else what does not.
    /// </summary>
    public string? LabelsProblem(Node master)
    {
        foreach (var p in Pods)
        {
            var label = p.Name == master.Name ? SidecarSet.Master : SidecarDefaults.ReplicaLabelValue;
            if (p.Label != label) return $"{p.Name} is labelled {p.Label ?? "(none)"}, expected {label}";
            if (p.Ready != "True") return $"{p.Name} ready condition is {p.Ready ?? "(unset)"}";
            if (!p.Readyz.StartsWith("200", StringComparison.Ordinal)) return $"{p.Name} sidecar /readyz {p.Readyz}";
        }
        return ServiceEndpoints is [var only] && only == master.Name ? null : $"the master Service's ready endpoints are [{string.Join(",", ServiceEndpoints ?? [])}]";
    }
}

/// <summary>Asks every Redis (ROLE), every Sentinel, the API double (pods, the master Service's endpoints) and every sidecar (/readyz), in parallel.</summary>
public sealed class Probe(RedisSet set, HttpClient http, string apiBase) : IAsyncDisposable
{
    static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(750); // generous: a busy 2-core machine must not show "down"
    readonly NodeClient[] redisClients = [.. set.Redis.Select(n => new NodeClient(set, n))];
    readonly NodeClient[] sentinelClients = [.. set.Sentinels.Select(n => new NodeClient(set, n))];

    public async Task<Snapshot> TakeAsync(CancellationToken ct)
    {
        var at = DateTimeOffset.UtcNow;
        var roles = redisClients.Select(c => c.TryAsync(s => s.RoleAsync(), ct)).ToArray();
        var sents = sentinelClients.Select(c => SentinelAsync(c, ct)).ToArray();
        var readyz = set.Redis.Select(n => ReadyzAsync(n, ct)).ToArray();
        var pods = GetJsonAsync("/_double/pods", ct);
        var endpoints = Endpoints.FetchAsync(http, apiBase, ct);
        await Task.WhenAll([.. roles, .. sents, .. readyz, pods, endpoints]).ConfigureAwait(false);
        var podJson = await pods.ConfigureAwait(false) as JsonArray;
        var rows = new PodState[set.Redis.Count];
        for (var i = 0; i < set.Redis.Count; i++)
        {
            var n = set.Redis[i];
            var (role, link, linkUp, replicas, offset) = await roles[i].ConfigureAwait(false) switch
            {
                (Role.Master m, _) => ("master", null, false, m.Replicas.Count, m.ReplicationOffset),
                (Role.Replica r, _) => ("replica", $"{r.MasterIp}:{r.MasterPort} {r.State}", r.State == "connected", 0, (long?)r.ReplicationOffset),
                (_, { } error) => (error, (string?)null, false, 0, (long?)null),
                var (other, _) => (other?.Value ?? "?", null, false, 0, null),
            };
            string? label = "?", ready = "?";
            if (podJson is not null)
            {
                var pod = podJson.OfType<JsonObject>().FirstOrDefault(p => (string?)p["metadata"]?["name"] == n.Name);
                label = (string?)pod?["metadata"]?["labels"]?[SidecarSet.Label];
                ready = (pod?["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
                    .FirstOrDefault(c => (string?)c["type"] == SidecarSet.Condition)?["status"]?.GetValue<string>();
            }
            rows[i] = new PodState(n.Name, n.Address, role, link, linkUp, replicas, offset, label, ready, await readyz[i].ConfigureAwait(false));
        }
        var sentinelRows = new SentinelState[set.Sentinels.Count];
        for (var i = 0; i < set.Sentinels.Count; i++) sentinelRows[i] = await sents[i].ConfigureAwait(false);
        var service = await endpoints.ConfigureAwait(false);
        return new Snapshot(at, rows, sentinelRows, podJson is not null, service?.Count > 0 ? service[^1].Ready : service is null ? null : []);
    }

    /// <summary>A Sentinel's master and epoch, read as the programs read them (get-master-addr-by-name + SENTINEL MASTER, <see cref="RedisReplies.Sentinel"/>).</summary>
    public static async Task<SentinelState> SentinelAsync(NodeClient c, CancellationToken ct)
    {
        var address = NodeAddress.TryCreate(c.Node.Ip, c.Node.Port, out var node, out _) ? node : default;
        var (answer, _) = await c.TryAsync(async s =>
        {
            var a = await DiscoveryClient.AskAsync(s, address, RedisSet.MasterSet, Timeout, ct).ConfigureAwait(false);
            return a.Answered ? a : throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, a.Error ?? "no answer");
        }, ct).ConfigureAwait(false);
        return answer is null
            ? new SentinelState(c.Node.Address, null, null, false)
            : new SentinelState(c.Node.Address, answer.Master.ToString(), answer.ConfigEpoch, answer.FailoverInProgress);
    }

    async Task<string> ReadyzAsync(Node n, CancellationToken ct)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(Timeout);
            using var response = await http.GetAsync(new Uri($"http://{n.Ip}:{SidecarDefaults.HttpPort}/readyz"), cts.Token).ConfigureAwait(false);
            var body = (await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false)).Trim();
            return $"{(int)response.StatusCode} {body}";
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested) { return "down"; }
    }

    async Task<JsonNode?> GetJsonAsync(string path, CancellationToken ct)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(Timeout);
            return JsonNode.Parse(await http.GetStringAsync(new Uri(apiBase + path), cts.Token).ConfigureAwait(false));
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or OperationCanceledException && !ct.IsCancellationRequested) { return null; }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in redisClients.Concat(sentinelClients)) await c.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The API double's label timeline (GET /_double/timeline), parsed.</summary>
public sealed record LabelChange(DateTimeOffset Time, string Pod, string Key, string? Old, string? New, string Source);

public static class Timeline
{
    public static async Task<(List<LabelChange> Changes, int MaxConcurrent)> FetchAsync(HttpClient http, string apiBase, CancellationToken ct)
    {
        var json = JsonNode.Parse(await http.GetStringAsync(
            new Uri($"{apiBase}/_double/timeline?key={SidecarSet.Label}&value={SidecarSet.Master}"), ct).ConfigureAwait(false))!;
        var changes = ((JsonArray)json["changes"]!).OfType<JsonObject>().Select(c => new LabelChange(
            DateTimeOffset.Parse((string)c["time"]!, CultureInfo.InvariantCulture),
            (string)c["pod"]!, (string)c["key"]!, (string?)c["old"], (string?)c["new"], (string?)c["source"] ?? "")).ToList();
        return (changes, (int)json["maxConcurrent"]!);
    }
}

/// <summary>The master Service's ready endpoints over time (GET /_double/endpoints), as the endpoints controller would publish them.</summary>
public sealed record EndpointsChange(DateTimeOffset Time, IReadOnlyList<string> Ready);

public static class Endpoints
{
    public static readonly string Selector = $"{SidecarSet.Label}={SidecarSet.Master}";

    /// <summary>Every change of the ready endpoints, or null when the double does not answer.</summary>
    public static async Task<List<EndpointsChange>?> FetchAsync(HttpClient http, string apiBase, CancellationToken ct)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(2));
            var json = JsonNode.Parse(await http.GetStringAsync(
                new Uri($"{apiBase}/_double/endpoints?namespace={Cluster.Namespace}&selector={Uri.EscapeDataString(Selector)}"), cts.Token).ConfigureAwait(false))!;
            return [.. ((JsonArray)json["changes"]!).OfType<JsonObject>().Select(c => new EndpointsChange(
                DateTimeOffset.Parse((string)c["time"]!, CultureInfo.InvariantCulture), [.. ((JsonArray)c["ready"]!).Select(p => (string)p!)]))];
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or OperationCanceledException && !ct.IsCancellationRequested) { return null; }
    }
}
