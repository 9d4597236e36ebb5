using System.Globalization;
using System.Text.Json.Nodes;
using RedisSidecars.Testing;

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

public sealed record Snapshot(DateTimeOffset At, PodState[] Pods, SentinelState[] Sentinels, bool ApiUp)
{
    /// <summary>The master every Sentinel names, or null while they disagree or one does not answer.</summary>
    public string? AgreedMaster =>
        Sentinels.Length > 0 && Sentinels.All(s => s.Master is not null && s.Master == Sentinels[0].Master) ? Sentinels[0].Master : null;

    public long? Epoch => Sentinels.Max(s => s.Epoch);

    public IReadOnlyList<PodState> LabelledMaster => [.. Pods.Where(p => p.Label == SidecarSet.Master)];

    /// <summary>Null when settled (Sentinels agree; that pod is master, labelled and ready; every other pod is a
    /// linked replica, labelled replica and ready; every sidecar's /readyz says ready); else what is not.</summary>
    public string? Unsettled()
    {
        var master = AgreedMaster;
        if (master is null) return "Sentinels do not agree on a master";
        foreach (var p in Pods)
        {
            var isMaster = p.Address == master;
            if (isMaster && p.Role != "master") return $"{p.Name} is not master yet (ROLE {p.Role})";
            if (isMaster && p.Replicas != Pods.Length - 1) return $"{p.Name} has {p.Replicas} of {Pods.Length - 1} replicas";
            if (!isMaster && (p.Role != "replica" || !p.LinkUp)) return $"{p.Name} is not a linked replica ({p.Role} {p.Link})";
            var label = isMaster ? SidecarSet.Master : SidecarDefaultsReplica;
            if (p.Label != label) return $"{p.Name} is labelled {p.Label ?? "(none)"}, expected {label}";
            if (p.Ready != "True") return $"{p.Name} ready condition is {p.Ready ?? "(unset)"}";
            if (!p.Readyz.StartsWith("200", StringComparison.Ordinal)) return $"{p.Name} sidecar /readyz {p.Readyz}";
        }
        return null;
    }

    /// <summary>The master serves through the Service: it alone is labelled master, its condition is True, its /readyz 200.</summary>
    public bool Serves(string master) =>
        Pods.FirstOrDefault(p => p.Address == master) is { Label: SidecarSet.Master, Ready: "True" } m
        && m.Readyz.StartsWith("200", StringComparison.Ordinal) && LabelledMaster.Count == 1;

    const string SidecarDefaultsReplica = RedisSidecars.Core.Settings.SidecarDefaults.ReplicaLabelValue;
}

/// <summary>Asks every Redis (ROLE), every Sentinel, the API double (pods) and every sidecar (/readyz), in parallel.</summary>
public sealed class Probe(IReadOnlyList<Node> redis, IReadOnlyList<Node> sentinels, HttpClient http, string apiBase, int[] sidecarPorts) : IAsyncDisposable
{
    static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(750); // generous: a busy 2-core machine must not show "down"
    readonly Resp[] redisClients = [.. redis.Select(n => new Resp(n.Ip, n.Port))];
    readonly Resp[] sentinelClients = [.. sentinels.Select(n => new Resp(n.Ip, n.Port))];

    public async Task<Snapshot> TakeAsync(CancellationToken ct)
    {
        var at = DateTimeOffset.UtcNow;
        var roles = redisClients.Select(c => RoleAsync(c, ct)).ToArray();
        var sents = sentinelClients.Select(c => SentinelAsync(c, ct)).ToArray();
        var readyz = sidecarPorts.Select(p => ReadyzAsync(p, ct)).ToArray();
        var pods = PodsAsync(ct);
        await Task.WhenAll([.. roles, .. sents, .. readyz, pods]).ConfigureAwait(false);
        var podJson = await pods.ConfigureAwait(false);
        var rows = new PodState[redis.Count];
        for (var i = 0; i < redis.Count; i++)
        {
            var (role, link, linkUp, replicas, offset) = await roles[i].ConfigureAwait(false);
            string? label = "?", ready = "?";
            if (podJson is not null)
            {
                var pod = podJson.OfType<JsonObject>().FirstOrDefault(p => (string?)p["metadata"]?["name"] == redis[i].Name);
                label = (string?)pod?["metadata"]?["labels"]?[SidecarSet.Label];
                ready = (pod?["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
                    .FirstOrDefault(c => (string?)c["type"] == SidecarSet.Condition)?["status"]?.GetValue<string>();
            }
            rows[i] = new PodState(redis[i].Name, redis[i].Address, role, link, linkUp, replicas, offset, label, ready, await readyz[i].ConfigureAwait(false));
        }
        var sentinelRows = new SentinelState[sentinels.Count];
        for (var i = 0; i < sentinels.Count; i++) sentinelRows[i] = await sents[i].ConfigureAwait(false);
        return new Snapshot(at, rows, sentinelRows, podJson is not null);
    }

    static async Task<(string Role, string? Link, bool LinkUp, int Replicas, long? Offset)> RoleAsync(Resp c, CancellationToken ct)
    {
        try
        {
            var reply = await c.ExecAsync(Timeout, ct, "ROLE").ConfigureAwait(false);
            return reply switch
            {
                object?[] { Length: >= 3 } r when (r[0] as string) == "master" => ("master", null, false, (r[2] as object?[])?.Length ?? 0, r[1] as long?),
                object?[] { Length: >= 5 } r when (r[0] as string) == "slave" =>
                    ("replica", $"{r[1]} {r[3]}", (r[3] as string) == "connected", 0, r[4] as long?),
                RespError e => (e.Message.Split(' ')[0], null, false, 0, null),
                _ => ("?", null, false, 0, null),
            };
        }
        catch (RespUnavailableException e) { return (e.Message == "no answer" ? "no answer" : "down", null, false, 0, null); }
    }

    public static async Task<SentinelState> SentinelAsync(Resp c, CancellationToken ct, bool withEpoch = true)
    {
        try
        {
            var addr = await c.ExecAsync(Timeout, ct, "SENTINEL", "get-master-addr-by-name", RedisSet.MasterSet).ConfigureAwait(false);
            var master = addr is object?[] { Length: 2 } a ? $"{a[0]}:{a[1]}" : null;
            if (!withEpoch) return new SentinelState(c.Address, master, null, false);
            var info = await c.ExecAsync(Timeout, ct, "SENTINEL", "master", RedisSet.MasterSet).ConfigureAwait(false) as object?[];
            string? Field(string name)
            {
                for (var i = 0; info is not null && i + 1 < info.Length; i += 2) if ((info[i] as string) == name) return info[i + 1] as string;
                return null;
            }
            long? epoch = long.TryParse(Field("config-epoch"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var e) ? e : null;
            return new SentinelState(c.Address, master, epoch, Field("flags")?.Contains("failover_in_progress", StringComparison.Ordinal) == true);
        }
        catch (RespUnavailableException) { return new SentinelState(c.Address, null, null, false); }
    }

    async Task<string> ReadyzAsync(int port, CancellationToken ct)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(Timeout);
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/readyz"), cts.Token).ConfigureAwait(false);
            var body = (await response.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false)).Trim();
            return $"{(int)response.StatusCode} {body}";
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested) { return "down"; }
    }

    async Task<JsonArray?> PodsAsync(CancellationToken ct)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(Timeout);
            return JsonNode.Parse(await http.GetStringAsync(new Uri(apiBase + "/_double/pods"), cts.Token).ConfigureAwait(false)) as JsonArray;
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
