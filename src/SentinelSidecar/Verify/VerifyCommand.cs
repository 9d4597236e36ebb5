using k8s;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Settings;
using RedisSidecars.Redis;
using RedisSidecars.Sidecar.Kubernetes;
using StackExchange.Redis;

namespace RedisSidecars.Sidecar.Verify;

/// <summary>
/// <c>redis-sidecar verify</c>: a post-deploy check. One line per check (✓ or ✗ with the reason); exit 0 only if all pass.
/// </summary>
public sealed class VerifyCommand(SidecarSettings settings, TextWriter output, Func<KubeApi?> kubernetes)
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    int failures;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var s = settings.Common;
        var sentinelNodes = s.SentinelNodes.ToList();
        if (settings.SentinelService is { } svc && !sentinelNodes.Contains(svc)) sentinelNodes.Add(svc);

        // 1. Every Sentinel reachable, each reported.
        var client = new DiscoveryClient(s, "redis-sidecar-verify");
        var answers = await client.AskSentinelsAsync(sentinelNodes, Timeout, ct).ConfigureAwait(false);
        foreach (var a in answers)
            Check(a.Answered, $"sentinel {a.Sentinel} reachable, names master {a.Master}", $"sentinel {a.Sentinel}: {a.Error}");

        // 2. Master agreed by a majority of the configured Sentinels.
        var verdict = MasterResolver.JudgeSentinels(answers.Where(a => s.SentinelNodes.Contains(a.Sentinel)).ToArray(), s.SentinelNodes.Count);
        var agreed = verdict.Kind == SentinelVerdictKind.Agreed && answers.Where(a => a.Answered).All(a => a.Master == verdict.Master);
        Check(agreed, $"master agreed: {verdict.Master} ({verdict.Agree}/{verdict.Configured} Sentinels)",
            $"master not agreed: {string.Join(", ", answers.Where(a => a.Answered).Select(a => $"{a.Sentinel}→{a.Master}"))} ({verdict.Kind})");
        if (verdict.Master is not { } master)
        {
            output.WriteLine($"✗ no master to check; {failures} check(s) failed");
            return 1;
        }

        // 3-4. Auth, then PING / SET with TTL / GET / DEL / gone.
        await CheckDataPathAsync(master, ct).ConfigureAwait(false);

        // 5. Exactly one pod labelled master, and it is the Sentinels' master.
        await CheckLabelsAsync(master, ct).ConfigureAwait(false);

        output.WriteLine(failures == 0 ? "verify: all checks passed" : $"verify: {failures} check(s) failed");
        return failures == 0 ? 0 : 1;
    }

    async Task CheckDataPathAsync(NodeAddress master, CancellationToken ct)
    {
        var s = settings.Common;
        ConnectionMultiplexer? mux = null;
        try
        {
            try
            {
                mux = await ConnectionMultiplexer.ConnectAsync(RedisEndpoints.ForRedis(master, s, Timeout, "redis-sidecar-verify")).WaitAsync(Timeout, ct).ConfigureAwait(false);
                Check(true, $"authentication to {master} " + (s.RedisPassword is null ? "(no password configured)" : "with the configured password"), "");
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                Check(false, "", $"connect/authenticate to master {master}: {RedisEndpoints.Describe(e)}");
                return;
            }
            if (s.RedisPassword is not null)
            {
                var anonymous = RedisEndpoints.ForRedis(master, s with { RedisPassword = null, RedisUsername = null }, Timeout, "redis-sidecar-verify");
                try
                {
                    await using var anon = await ConnectionMultiplexer.ConnectAsync(anonymous).WaitAsync(Timeout, ct).ConfigureAwait(false);
                    var pong = await anon.GetDatabase().PingAsync().WaitAsync(Timeout, ct).ConfigureAwait(false);
                    Check(false, "", $"master {master} accepts commands without a password");
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    Check(true, "unauthenticated access refused", "");
                }
            }

            var db = mux.GetDatabase();
            var key = $"redis-sidecar:verify:{Guid.NewGuid():N}";
            var value = Guid.NewGuid().ToString("N");
            await Step("PING", async () => { await db.PingAsync().WaitAsync(Timeout, ct).ConfigureAwait(false); return (true, "PING answered"); }).ConfigureAwait(false);
            await Step("SET", async () => (await db.StringSetAsync(key, value, TimeSpan.FromSeconds(60)).WaitAsync(Timeout, ct).ConfigureAwait(false), $"SET {key} with a 60 s TTL")).ConfigureAwait(false);
            await Step("GET", async () => ((string?)await db.StringGetAsync(key).WaitAsync(Timeout, ct).ConfigureAwait(false) == value, "GET returned the value")).ConfigureAwait(false);
            await Step("TTL", async () => (await db.KeyTimeToLiveAsync(key).WaitAsync(Timeout, ct).ConfigureAwait(false) is { } ttl && ttl > TimeSpan.Zero, "the key has a TTL")).ConfigureAwait(false);
            await Step("DEL", async () => (await db.KeyDeleteAsync(key).WaitAsync(Timeout, ct).ConfigureAwait(false), "DEL removed the key")).ConfigureAwait(false);
            await Step("EXISTS", async () => (!await db.KeyExistsAsync(key).WaitAsync(Timeout, ct).ConfigureAwait(false), "the key is gone")).ConfigureAwait(false);
        }
        finally
        {
            if (mux is not null) await mux.DisposeAsync().ConfigureAwait(false);
        }
    }

    async Task Step(string name, Func<Task<(bool Ok, string Text)>> step)
    {
        try
        {
            var (ok, text) = await step().ConfigureAwait(false);
            Check(ok, text, $"{name} failed: {text}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Check(false, "", $"{name} failed: {RedisEndpoints.Describe(e)}");
        }
    }

    async Task CheckLabelsAsync(NodeAddress master, CancellationToken ct)
    {
        var api = kubernetes();
        if (api is null)
        {
            output.WriteLine("- kubernetes: not checked (no KUBECONFIG and not running in a cluster)");
            return;
        }
        try
        {
            // The same list the sidecar's watch cache makes (the StatefulSet's pods by name), filtered here.
            var selector = $"{settings.LabelName}={settings.MasterLabelValue}";
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(TimeSpan.FromSeconds(10));
            var (pods, _) = await StatefulSetPods.ListPodsAsync(api, settings.Common.Namespace, settings.PodNames, bound.Token).ConfigureAwait(false);
            var labelled = pods.Where(p => p.Metadata?.Labels?.TryGetValue(settings.LabelName, out var v) == true && v == settings.MasterLabelValue).ToArray();
            var names = labelled.Select(p => p.Metadata!.Name ?? "?").ToArray();
            Check(names.Length == 1, $"exactly one pod labelled {selector}: {names.FirstOrDefault()}",
                $"{names.Length} pods labelled {selector} (expected exactly one){(names.Length > 0 ? ": " + string.Join(",", names) : "")}");
            if (names.Length == 1)
            {
                var pod = labelled[0];
                var matches = PodIsNode(names[0], pod.Status?.PodIp, master);
                Check(matches, $"the labelled pod {names[0]} is the Sentinels' master {master}",
                    $"the labelled pod {names[0]} is not the Sentinels' master {master}");
            }
        }
        catch (Exception e) when ((e is not OperationCanceledException || !ct.IsCancellationRequested) && (e is OperationCanceledException || KubeErrors.IsTransient(e) || e is k8s.Autorest.HttpOperationException))
        {
            Check(false, "", $"list pods in {settings.Common.Namespace}: {KubeErrors.Describe(e)}");
        }
    }

    bool PodIsNode(string podName, string? podIp, NodeAddress master)
    {
        if (podIp is not null && string.Equals(podIp, master.Host, StringComparison.OrdinalIgnoreCase)) return true;
        if (master.Host.StartsWith(podName + ".", StringComparison.OrdinalIgnoreCase)) return true;
        var dash = podName.LastIndexOf('-');
        return dash > 0 && int.TryParse(podName[(dash + 1)..], out var ordinal) && ordinal < settings.Common.RedisNodes.Count
            && settings.Common.RedisNodes[ordinal].Equals(master);
    }

    void Check(bool ok, string pass, string fail)
    {
        if (ok) output.WriteLine($"✓ {pass}");
        else { failures++; output.WriteLine($"✗ {fail}"); }
    }
}
