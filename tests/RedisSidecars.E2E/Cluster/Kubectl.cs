namespace RedisSidecars.E2E.Cluster;

/// <summary>kubectl for what the API client does not do as well: apply -k, rollout, exec.</summary>
public sealed class Kubectl(string ns)
{
    public static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(60);

    public async Task ApplyAsync(string kustomizationDir, CancellationToken ct)
    {
        var r = await Processes.RunAsync("kubectl", ["apply", "-k", kustomizationDir], TimeSpan.FromMinutes(3), ct).ConfigureAwait(false);
        if (r.Code != 0) throw new InvalidOperationException($"kubectl apply -k failed (exit {r.Code}): {r.Stderr.Trim()}");
    }

    public async Task<Processes.Result> RolloutStatusAsync(string kind, string name, TimeSpan timeout, CancellationToken ct) =>
        await Processes.RunAsync("kubectl", ["-n", ns, "rollout", "status", $"{kind}/{name}", $"--timeout={(int)timeout.TotalSeconds}s"], timeout + TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);

    public async Task RolloutRestartAsync(string kind, string name, CancellationToken ct)
    {
        var r = await Processes.RunAsync("kubectl", ["-n", ns, "rollout", "restart", $"{kind}/{name}"], TimeSpan.FromMinutes(1), ct).ConfigureAwait(false);
        if (r.Code != 0) throw new InvalidOperationException($"kubectl rollout restart {kind}/{name} failed (exit {r.Code}): {r.Stderr.Trim()}");
    }

    /// <summary>Runs a sh script in a container; the script's exit code and output.</summary>
    public Task<Processes.Result> ExecAsync(string pod, string container, string script, CancellationToken ct) =>
        Processes.RunAsync("kubectl", ExecArgs(pod, container, script), ExecTimeout, ct);

    public IReadOnlyList<string> ExecArgs(string pod, string container, string script) =>
        ["-n", ns, "exec", pod, "-c", container, "--", "sh", "-c", script];
}
