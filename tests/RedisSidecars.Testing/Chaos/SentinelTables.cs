using RedisSidecars.Redis;
using RedisSidecars.Core.Rendering;
using RedisSidecars.Core.Roles;

namespace RedisSidecars.Testing.Chaos;

/// <summary>
/// Invariant 4: a Sentinel's tables list exactly the other Redis pods as replicas and exactly the other
/// Sentinels (each once, with the deterministic myid redis-init gives it) — no stale twins, no unknown
/// addresses. Never uses <c>SENTINEL RESET</c>: the tables must stay clean by themselves.
/// </summary>
public static class SentinelTables
{
    /// <summary>The myid redis-init writes for a Sentinel pod.</summary>
    public static string ExpectedMyId(RedisSet set, Node sentinel) =>
        SentinelConfRenderer.MyId(set.EnvFor(sentinel)["POD_NAMESPACE"], sentinel.Name);

    /// <summary>Null when <paramref name="sentinel"/>'s tables are exactly right for <paramref name="master"/>; else what is wrong.</summary>
    /// <param name="down">Redis pods that are down now: a Sentinel that started while they were (it learns replicas from
    /// the master's INFO) cannot list them yet; if it does, once.</param>
    public static async Task<string?> ProblemAsync(RedisSet set, Node sentinel, Node master, IReadOnlyCollection<Node>? down = null)
    {
        var replicas = await set.SentinelTableAsync(sentinel);
        var peers = await set.SentinelTableAsync(sentinel, sentinels: true);
        if (replicas is null || peers is null) return $"{sentinel.Name}: SENTINEL replicas/sentinels did not answer";
        var problems = new List<string>();

        var expectedReplicas = set.Redis.Where(n => n != master).Select(n => n.Address).ToHashSet();
        foreach (var g in replicas.GroupBy(e => e.Address?.ToString() ?? "?"))
        {
            if (!expectedReplicas.Contains(g.Key)) problems.Add($"unknown replica entry {string.Join(",", g.Select(Show))}");
            else if (g.Count() > 1) problems.Add($"duplicate replica entries {string.Join(",", g.Select(Show))}");
        }
        foreach (var missing in expectedReplicas.Where(a => replicas.All(e => e.Address?.ToString() != a) && down?.Any(d => d.Address == a) != true))
            problems.Add($"replica {missing} missing");

        var expectedPeers = set.Sentinels.Where(n => n != sentinel).ToDictionary(n => n.Address, n => ExpectedMyId(set, n));
        foreach (var g in peers.GroupBy(e => e.Address?.ToString() ?? "?"))
        {
            if (!expectedPeers.TryGetValue(g.Key, out var id)) problems.Add($"unknown sentinel entry {string.Join(",", g.Select(Show))}");
            else if (g.Count() > 1) problems.Add($"duplicate sentinel entries {string.Join(",", g.Select(Show))}");
            else if (g.Single().RunId != id) problems.Add($"sentinel entry {Show(g.Single())} has runid != deterministic myid {id[..8]}");
        }
        foreach (var g in peers.GroupBy(e => e.RunId).Where(g => g.Count() > 1))
            problems.Add($"sentinel runid {g.Key[..Math.Min(8, g.Key.Length)]} listed {g.Count()} times: {string.Join(",", g.Select(Show))}");
        foreach (var missing in expectedPeers.Keys.Where(a => peers.All(e => e.Address?.ToString() != a)))
            problems.Add($"sentinel {missing} missing");

        return problems.Count == 0 ? null
            : $"{sentinel.Name} (master {master.Name}): {string.Join("; ", problems)} | replicas=[{string.Join(", ", replicas.Select(Show))}] sentinels=[{string.Join(", ", peers.Select(Show))}]";
    }

    static string Show(SentinelEntry e) => $"{e.Address}(runid={(e.RunId.Length > 8 ? e.RunId[..8] : e.RunId)} flags={e.FlagText})";
}
