using System.Diagnostics;
using k8s;
using k8s.Autorest;
using k8s.Models;
using RedisSidecars.E2E.Analysis;
using RedisSidecars.E2E.Cluster;
using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E;

/// <summary>
/// The end-to-end run against a real cluster. Each step prints what it sees; functional checks fail the run, the issue's
/// targets are printed next to the measurements. The namespace is deleted on every exit path unless --keep.
/// </summary>
public sealed class Suite(E2EOptions options, Report report, Func<TimeSpan> clock)
{
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    static readonly TimeSpan SettleWithWriter = TimeSpan.FromSeconds(5);
    static readonly string[] HandoverReasons = ["HandedOver", "HandoverFailed", "HandoverPending", "RoleChanged"];
    readonly string runId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));

    IKubernetes client = null!;
    DeployedSet set = null!;
    Kubectl kubectl = null!;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        Workspace? ws = null;
        Observers? observers = null;
        string? createdNamespace = null;
        try
        {
            report.Step("deploy");
            ws = await Workspace.CreateAsync(Workspace.FindManifests(options.ManifestsDir), options.Overlay, ct);
            var overlay = DeployedSet.From(await ws.RenderOverlayAsync(ct));
            var ns = options.Namespace ?? E2EOptions.RandomNamespace();
            ws.WriteRunKustomization(ns, overlay.Overrides(options.InitImage, options.SidecarImage, options.RedisImage));
            set = DeployedSet.From(await ws.RenderRunAsync(ct));
            if (set.Namespace != ns) throw new InvalidOperationException($"the run's rendering puts everything in namespace '{set.Namespace}', not '{ns}'");
            report.Info($"overlay {options.Overlay}, namespace {ns}; images: {set.InitImage}, {set.SidecarImage}, {set.Redis.Image}");
            report.Info($"master label {set.LabelName}={set.MasterValue}, Service {set.MasterService}:{set.MasterServicePort}, master set {set.MasterSetName}, client label {set.ClientLabel?.Key}={set.ClientLabel?.Value}");

            client = await ConnectAsync(ct);
            kubectl = new Kubectl(ns);
            if (await NamespaceExistsAsync(ns, ct))
                throw new InvalidOperationException($"namespace {ns} already exists: the suite deploys into a new namespace and deletes it at the end; name another or leave --namespace out");
            createdNamespace = ns;
            report.Info($"if this run is killed: kubectl delete namespace {ns}   (all runs: kubectl delete namespace -l {TemporaryKustomization.NamespaceLabel}=true)");
            await kubectl.ApplyAsync(ws.RunDir, ct);
            report.Info("applied; waiting for both StatefulSets");
            foreach (var sts in new[] { set.SentinelStatefulSet, set.RedisStatefulSet })
            {
                var r = await kubectl.RolloutStatusAsync("statefulset", sts, options.RolloutTimeout, ct);
                if (!report.Check($"statefulset/{sts} rolled out", r.Code == 0, r.Code == 0 ? LastLine(r.Stdout) : LastLine(r.Stderr + r.Stdout)))
                    return await DescribeFailureAsync(ct);
            }

            report.Step("1. exactly one pod labelled master, and it is the Sentinels' master");
            var master = await OneMasterAsync("one master labelled, Sentinels agree (after deploy)", exclude: null, ct);
            if (master is null) return await DescribeFailureAsync(ct);

            report.Step($"2. Service {set.MasterService} reaches the master (ROLE from a client pod)");
            await ServiceReachesMasterAsync(master, ct);

            report.Step("7a. the verify Job from the manifests succeeds");
            await JobSucceedsAsync(set.VerifyJob.Metadata.Name, "verify Job (applied with the manifests)", ct);

            observers = new Observers(client, set, kubectl, clock);
            await observers.StartAsync(ct);

            report.Step($"3. delete the master pod while a WAIT 1 writer writes through {set.MasterService}");
            var failover = await FailoverPhaseAsync(observers, master, ct);

            report.Step($"4. kubectl rollout restart statefulset/{set.RedisStatefulSet} while a WAIT 1 writer writes");
            await RollingRestartPhaseAsync(observers, failover ?? master, ct);

            report.Step($"5. {set.MasterService} EndpointSlices sampled every {Observers.SampleEvery.TotalMilliseconds:0} ms during 3 and 4");
            EndpointReport(observers, "3 (master deleted)", windowFailover);
            EndpointReport(observers, "4 (rolling restart)", windowRestart);
            report.Info($"samples missed (API errors): {observers.SampleErrors}; pod watch restarts: {observers.WatchRestarts}");
            observers.StopFeeds();

            report.Step("6. a deleted Sentinel pod comes back monitoring the current master");
            await SentinelComesBackAsync(ct);

            report.Step("7b. the verify Job, run again after the disruptions");
            var again = ClientPods.VerifyAgain(set, $"{set.VerifyJob.Metadata.Name}-{runId}");
            await client.BatchV1.CreateNamespacedJobAsync(again, set.Namespace, cancellationToken: ct);
            await JobSucceedsAsync(again.Metadata.Name, "verify Job (after the disruptions)", ct);
            return report.Failed ? 1 : 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            report.Check("run completed", false, "interrupted");
            return 130;
        }
        catch (Exception e) // the run's last resort: whatever stopped it is named in the report, and the finally cleans up
        {
            report.Check("run completed", false, Describe(e));
            return 1;
        }
        finally
        {
            if (observers is not null) await observers.DisposeAsync();
            Processes.StopAll();
            var cleanup = await CleanUpAsync(createdNamespace);
            ws?.Dispose();
            Console.Out.WriteLine();
            Console.Out.WriteLine(report.Summary(cleanup));
        }
    }

    (TimeSpan From, TimeSpan To) windowFailover, windowRestart;

    /// <summary>The API client for exactly the cluster kubectl uses: kubectl's own merged view of KUBECONFIG (which may
    /// list several files) and its current context.</summary>
    static async Task<IKubernetes> ConnectAsync(CancellationToken ct)
    {
        var view = await Processes.RunAsync("kubectl", ["config", "view", "--raw", "--flatten", "--minify"], TimeSpan.FromSeconds(30), ct);
        if (view.Code != 0) throw new InvalidOperationException($"kubectl config view failed (exit {view.Code}): {LastLine(view.Stderr)}");
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(view.Stdout));
        return new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(stream));
    }

    async Task<bool> NamespaceExistsAsync(string ns, CancellationToken ct)
    {
        try
        {
            await client.CoreV1.ReadNamespaceAsync(ns, cancellationToken: ct);
            return true;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    // ---- step 1: one master labelled, Sentinels agree --------------------------------------------------------------

    /// <summary>Waits (bounded) until exactly one pod carries the master label, it is not <paramref name="exclude"/>, and
    /// every Sentinel names it; prints what it saw last. Returns the master pod, or null (check failed).</summary>
    async Task<string?> OneMasterAsync(string check, string? exclude, CancellationToken ct)
    {
        var deadline = clock() + options.RolloutTimeout;
        string seen = "";
        while (true)
        {
            var labelled = (await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.MasterSelector, cancellationToken: ct)).Items
                .Where(p => p.Metadata.DeletionTimestamp is null).Select(p => p.Metadata.Name).Order().ToArray();
            var sentinels = await SentinelAnswersAsync(ct);
            seen = $"labelled {set.LabelName}={set.MasterValue}: [{string.Join(", ", labelled)}]; Sentinels: {string.Join("; ", sentinels.Select(s => $"{s.Sentinel} → {s.Answer}"))}";
            if (labelled is [var one] && one != exclude && sentinels.Count == set.SentinelReplicas && sentinels.All(s => s.Pod == one))
            {
                report.Info(seen);
                report.Check(check, true, one);
                return one;
            }
            if (clock() > deadline)
            {
                report.Info(seen);
                report.Check(check, false, $"not settled within {options.RolloutTimeout.TotalMinutes:0} min" + (exclude is null ? "" : $" (a master other than {exclude})"));
                return null;
            }
            await Task.Delay(Poll, ct);
        }
    }

    async Task<IReadOnlyList<(string Sentinel, string Answer, string? Pod)>> SentinelAnswersAsync(CancellationToken ct)
    {
        var sentinelPods = (await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.SentinelPodSelector, cancellationToken: ct)).Items
            .Where(p => p.Status?.Phase == "Running" && p.Metadata.DeletionTimestamp is null).ToArray();
        var redisPods = await RedisPodAddressesAsync(ct);
        var answers = await Task.WhenAll(sentinelPods.Select(async p =>
        {
            var r = await kubectl.ExecAsync(p.Metadata.Name, set.Sentinel.Name, Scripts.SentinelMaster(set.Sentinel, set.MasterSetName), ct);
            var addr = r.Code == 0 ? Replies.MasterAddress(r.Stdout) : null;
            return addr is { } a
                ? (p.Metadata.Name, $"{a.Host}:{a.Port}", Replies.PodOf(a.Host, redisPods))
                : (p.Metadata.Name, r.Code == 0 ? "no master" : $"exec failed: {LastLine(r.Stderr)}", (string?)null);
        }));
        return answers;
    }

    async Task<IReadOnlyList<PodAddress>> RedisPodAddressesAsync(CancellationToken ct) =>
        (await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.RedisPodSelector, cancellationToken: ct)).Items
            .Select(p => new PodAddress(p.Metadata.Name, p.Status?.PodIP)).ToArray();

    // ---- step 2: the Service reaches the master --------------------------------------------------------------------

    async Task ServiceReachesMasterAsync(string master, CancellationToken ct)
    {
        var name = $"e2e-client-{runId}";
        await client.CoreV1.CreateNamespacedPodAsync(ClientPods.Build(set, name, "exec sleep 3600"), set.Namespace, cancellationToken: ct);
        if (!await WaitPodPhaseAsync(name, ["Running"], ct))
        {
            report.Check($"{set.MasterService} reaches the master", false, $"client pod {name} never ran");
            return;
        }
        var deadline = clock() + TimeSpan.FromMinutes(1); // a new pod's NetworkPolicy may take a moment to be programmed
        string seen;
        bool reached;
        while (true)
        {
            var r = await kubectl.ExecAsync(name, "e2e", Scripts.RoleThrough(set.Redis.Cli, set.MasterService, set.MasterServicePort), ct);
            var (role, ip) = Replies.RoleAndServerAddress(r.Stdout);
            var pod = ip is null ? null : Replies.PodOf(ip, await RedisPodAddressesAsync(ct));
            seen = r.Code == 0 ? $"ROLE through {set.MasterService}: {role}, answered by {ip ?? "?"} ({pod ?? "no Redis pod"})" : $"exec failed: {LastLine(r.Stderr + r.Stdout)}";
            reached = r.Code == 0 && role == "master" && pod == master;
            if (reached || clock() > deadline) break;
            await Task.Delay(Poll, ct);
        }
        report.Info(seen);
        report.Check($"{set.MasterService} reaches the master", reached, reached ? master : $"expected {master}");
        await DeletePodAsync(name, ct);
    }

    // ---- steps 3 and 4: disruptions under a writer -----------------------------------------------------------------

    async Task<string?> FailoverPhaseAsync(Observers observers, string master, CancellationToken ct)
    {
        var (newMaster, window) = await UnderWriterAsync(observers, "failover", "3", master, restartReplicas: null, async () =>
        {
            report.Info($"deleting pod {master} (its preStop hook hands mastership over first)");
            await client.CoreV1.DeleteNamespacedPodAsync(master, set.Namespace, cancellationToken: ct);
            var labelled = await OneMasterAsync("a new master labelled, Sentinels agree", exclude: master, ct);
            var rolled = await kubectl.RolloutStatusAsync("statefulset", set.RedisStatefulSet, options.RolloutTimeout, ct);
            report.Check($"pod {master} recreated and the set ready again", rolled.Code == 0, LastLine(rolled.Stdout + rolled.Stderr));
            return labelled;
        }, ct);
        windowFailover = window;
        return newMaster;
    }

    async Task<string?> RollingRestartPhaseAsync(Observers observers, string master, CancellationToken ct)
    {
        var (newMaster, window) = await UnderWriterAsync(observers, "restart", "4", master, restartReplicas: set.RedisReplicas, async () =>
        {
            report.Info($"master before: {master}");
            await kubectl.RolloutRestartAsync("statefulset", set.RedisStatefulSet, ct);
            var rolled = await kubectl.RolloutStatusAsync("statefulset", set.RedisStatefulSet, options.RolloutTimeout, ct);
            report.Check($"rolling restart of statefulset/{set.RedisStatefulSet} completed", rolled.Code == 0, LastLine(rolled.Stdout + rolled.Stderr));
            return await OneMasterAsync("one master labelled, Sentinels agree (after the restart)", exclude: null, ct);
        }, ct);
        windowRestart = window;
        return newMaster;
    }

    /// <summary>Starts a writer, runs the disruption (which returns the master it settled on), lets the writer go on a
    /// few seconds, then stops it and accounts for the window.</summary>
    async Task<(string? NewMaster, (TimeSpan From, TimeSpan To) Window)> UnderWriterAsync(Observers observers, string phase, string step, string master,
        int? restartReplicas, Func<Task<string?>> disrupt, CancellationToken ct)
    {
        var writer = await StartWriterAsync(phase, ct);
        if (writer is null) return (null, default);
        var events = await EventUidsAsync(ct);
        var from = clock();
        var newMaster = await disrupt();
        await Task.Delay(SettleWithWriter, ct);
        var to = clock();
        await FinishPhaseAsync(observers, step, writer, newMaster, master, from, to, events, restartReplicas, ct);
        return (newMaster, (from, to));
    }

    sealed record Writer(string Pod, string Prefix);

    async Task<Writer?> StartWriterAsync(string phase, CancellationToken ct)
    {
        var name = $"e2e-writer-{phase}-{runId}";
        var prefix = $"e2e:{runId}:{phase}";
        var script = Scripts.Writer(set.Redis.Cli, set.MasterService, set.MasterServicePort, prefix, waitMs: 1000,
            maxSeconds: (int)(options.RolloutTimeout.TotalSeconds * 2), stopFile: ClientPods.ScratchDir + "/stop");
        await client.CoreV1.CreateNamespacedPodAsync(ClientPods.Build(set, name, script), set.Namespace, cancellationToken: ct);
        var deadline = clock() + TimeSpan.FromMinutes(2);
        WriterRun run;
        do
        {
            await Task.Delay(Poll, ct);
            run = WriterLog.Parse(await LogAsync(name, ct));
        }
        while (run.AckedAt.Count < 20 && clock() < deadline);
        var ok = report.Check($"writer {name} gets acknowledged writes", run.AckedAt.Count >= 20,
            $"{run.AckedAt.Count} acknowledged, {run.Errors.Count} failed" + (run.Errors.Count > 0 ? $" (last: {run.Errors[^1].Reply})" : ""));
        return ok ? new Writer(name, prefix) : null;
    }

    async Task FinishPhaseAsync(Observers observers, string step, Writer writer, string? newMaster, string oldMaster,
        TimeSpan from, TimeSpan to, IReadOnlySet<string> eventsBefore, int? restartReplicas, CancellationToken ct)
    {
        // Stop the writer and read its whole log once it has exited.
        await kubectl.ExecAsync(writer.Pod, "e2e", $"touch {Scripts.Quote(ClientPods.ScratchDir + "/stop")}", ct);
        await WaitPodPhaseAsync(writer.Pod, ["Succeeded", "Failed"], ct);
        var run = WriterLog.Parse(await LogAsync(writer.Pod, ct));
        report.Info($"writer: {run.AckedAt.Count} writes acknowledged, {run.Errors.Count} failed attempts, {run.Unreadable} unreadable log lines, ended={run.Ended}");
        foreach (var e in run.Errors.GroupBy(e => Shorten(e.Reply)).OrderByDescending(g => g.Count()).Take(3))
            report.Info($"  failed attempts answering \"{e.Key}\": {e.Count()}");

        // No acknowledged write lost: every acknowledged key is on the master now.
        var master = newMaster ?? oldMaster;
        var read = await kubectl.ExecAsync(master, set.Redis.Name, Scripts.ReadBack(set.Redis, writer.Prefix), ct);
        var (role, keys) = Replies.RoleAndKeys(read.Stdout);
        var lost = Accounting.Lost(run, keys);
        report.Check($"step {step}: no acknowledged write lost", read.Code == 0 && role == "master" && lost.Count == 0 && run.AckedAt.Count > 0,
            read.Code != 0 ? $"reading back from {master} failed: {LastLine(read.Stderr)}"
            : role != "master" ? $"{master} answers ROLE {role}, not master"
            : $"{run.AckedAt.Count} acknowledged, {keys.Count} keys on {master}, {lost.Count} lost" + (lost.Count > 0 ? $": {Accounting.Ranges(lost)}" : ""));

        // Masters and handovers, from the pod watch, the Sentinels and the sidecars' Events.
        var history = Handovers.Replay(observers.Pods, set.MasterValue, oldMaster, from, to);
        report.Info($"master changes: {history.Changes.Count} ({string.Join(", ", history.Changes.Select(c => $"{c.Master} at {Targets.Seconds(c.At - from)}"))})");
        report.Check($"step {step}: never two pods labelled master", history.TwoLabelled.Count == 0,
            history.TwoLabelled.Count == 0 ? "one at most at every watch event" : string.Join("; ", history.TwoLabelled.Take(3).Select(t => $"{string.Join("+", t.Pods)} at {Targets.Seconds(t.At - from)}")));
        var promotions = Handovers.Promotions(observers.Switches.Where(s => s.At >= from && s.At <= to));
        var pods = await RedisPodAddressesAsync(ct);
        if (promotions.Count == 0) report.Info("no +switch-master message from the Sentinels' feeds in this window");
        foreach (var p in promotions)
        {
            var to_ = Replies.PodOf(p.NewHost, pods) ?? p.NewHost;
            report.Info($"+switch-master at {Targets.Seconds(p.At - from)}: {p.OldHost} → {p.NewHost} ({to_}; {p.Messages} Sentinel messages)");
            report.Target(Targets.EndpointAfterPromotion(to_, EndpointTimeline.ReadyAfter(observers.Samples, p.At, to_)));
        }
        var newEvents = (await client.CoreV1.ListNamespacedEventAsync(set.Namespace, cancellationToken: ct)).Items
            .Where(e => !eventsBefore.Contains(e.Metadata.Uid) && HandoverReasons.Contains(e.Reason)).ToArray();
        report.Info("sidecar Events: " + string.Join(", ", HandoverReasons.Select(r => $"{r}={newEvents.Where(e => e.Reason == r).Sum(e => e.Count ?? 1)}")));
        foreach (var e in newEvents.Where(e => e.Type == "Warning").Take(5)) report.Info($"  Warning {e.Reason} {e.InvolvedObject?.Name}: {e.Message}");

        report.Target(Targets.WriteGap(Accounting.LongestGap(run)));
        if (restartReplicas is { } replicas)
        {
            var order = Handovers.TerminationOrder(observers.Pods, from, to);
            report.Info($"restart order: {string.Join(" → ", order)}");
            report.Target(Targets.RollingRestartHandovers(history.Changes.Count, oldMaster, order.FirstOrDefault(), replicas));
        }
        await DeletePodAsync(writer.Pod, ct);
    }

    void EndpointReport(Observers observers, string name, (TimeSpan From, TimeSpan To) window)
    {
        if (window == default)
        {
            report.Info($"{name}: not measured (the step did not run)");
            return;
        }
        var s = EndpointTimeline.Analyze(observers.Samples, window.From, window.To);
        report.Info($"{name}: {s.Samples} samples; longest without a ready endpoint {Targets.Seconds(s.LongestWithoutReady)}"
                    + (s.LongestStartedAt is { } at ? $" (from {Targets.Seconds(at - window.From)})" : "")
                    + $"; most ready at once {s.MostReadyAtOnce} [{string.Join(", ", s.MostReadyPods)}]");
        report.Target(new TargetResult($"{name}: two ready endpoints never seen", s.MostReadyAtOnce > 1 ? "seen" : "never", "never", s.MostReadyAtOnce <= 1));
    }

    // ---- step 6: a Sentinel pod comes back -------------------------------------------------------------------------

    async Task SentinelComesBackAsync(CancellationToken ct)
    {
        var sentinels = (await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.SentinelPodSelector, cancellationToken: ct)).Items
            .OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).ToArray();
        if (sentinels.Length == 0)
        {
            report.Check("a deleted Sentinel comes back", false, "no Sentinel pods");
            return;
        }
        var victim = sentinels[0];
        report.Info($"deleting pod {victim.Metadata.Name}");
        await client.CoreV1.DeleteNamespacedPodAsync(victim.Metadata.Name, set.Namespace, cancellationToken: ct);
        var deadline = clock() + options.RolloutTimeout;
        var seen = "";
        while (clock() < deadline)
        {
            await Task.Delay(Poll, ct);
            V1Pod pod;
            try { pod = await client.CoreV1.ReadNamespacedPodAsync(victim.Metadata.Name, set.Namespace, cancellationToken: ct); }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { continue; }
            if (pod.Metadata.Uid == victim.Metadata.Uid || pod.Status?.Phase != "Running") continue;
            var labelled = (await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: set.MasterSelector, cancellationToken: ct)).Items.Select(p => p.Metadata.Name).ToArray();
            var r = await kubectl.ExecAsync(pod.Metadata.Name, set.Sentinel.Name, Scripts.SentinelMaster(set.Sentinel, set.MasterSetName), ct);
            var answer = r.Code == 0 ? Replies.MasterAddress(r.Stdout) : null;
            var answered = answer is { } a ? Replies.PodOf(a.Host, await RedisPodAddressesAsync(ct)) : null;
            seen = $"new {pod.Metadata.Name} says {(answer is { } x ? $"{x.Host}:{x.Port} ({answered})" : r.Code == 0 ? "no master" : LastLine(r.Stderr))}; labelled master: [{string.Join(", ", labelled)}]";
            if (answered is not null && labelled is [var m] && m == answered)
            {
                report.Info(seen);
                report.Check("a deleted Sentinel comes back monitoring the current master", true, answered);
                return;
            }
        }
        report.Info(seen);
        report.Check("a deleted Sentinel comes back monitoring the current master", false, $"not within {options.RolloutTimeout.TotalMinutes:0} min");
    }

    // ---- step 7: Jobs ----------------------------------------------------------------------------------------------

    async Task JobSucceedsAsync(string name, string check, CancellationToken ct)
    {
        var deadline = clock() + options.RolloutTimeout;
        V1Job job;
        while (true)
        {
            job = await client.BatchV1.ReadNamespacedJobAsync(name, set.Namespace, cancellationToken: ct);
            var done = job.Status?.Conditions?.FirstOrDefault(c => c.Status == "True" && c.Type is "Complete" or "Failed");
            if (done is not null || clock() > deadline) break;
            await Task.Delay(Poll, ct);
        }
        var complete = job.Status?.Conditions?.Any(c => c.Type == "Complete" && c.Status == "True") == true;
        var pods = (await client.CoreV1.ListNamespacedPodAsync(set.Namespace, labelSelector: $"job-name={name}", cancellationToken: ct)).Items
            .OrderBy(p => p.Metadata.CreationTimestamp).ToArray();
        if (pods.Length > 0)
            foreach (var line in (await LogAsync(pods[^1].Metadata.Name, ct)).TrimEnd().Split('\n').TakeLast(6)) report.Info($"  {pods[^1].Metadata.Name}: {line}");
        report.Check(check, complete, $"{name}: succeeded {job.Status?.Succeeded ?? 0}, failed {job.Status?.Failed ?? 0}");
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    async Task<bool> WaitPodPhaseAsync(string name, string[] phases, CancellationToken ct)
    {
        var deadline = clock() + TimeSpan.FromMinutes(3);
        while (clock() < deadline)
        {
            var pod = await client.CoreV1.ReadNamespacedPodAsync(name, set.Namespace, cancellationToken: ct);
            if (phases.Contains(pod.Status?.Phase)) return true;
            await Task.Delay(Poll, ct);
        }
        return false;
    }

    async Task<string> LogAsync(string pod, CancellationToken ct)
    {
        try
        {
            await using var stream = await client.CoreV1.ReadNamespacedPodLogAsync(pod, set.Namespace, cancellationToken: ct);
            using var reader = new StreamReader(stream);
            return await reader.ReadToEndAsync(ct);
        }
        catch (HttpOperationException) { return ""; } // not started yet
    }

    async Task DeletePodAsync(string name, CancellationToken ct)
    {
        try { await client.CoreV1.DeleteNamespacedPodAsync(name, set.Namespace, gracePeriodSeconds: 0, cancellationToken: ct); }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { }
    }

    async Task<IReadOnlySet<string>> EventUidsAsync(CancellationToken ct) =>
        (await client.CoreV1.ListNamespacedEventAsync(set.Namespace, cancellationToken: ct)).Items.Select(e => e.Metadata.Uid).ToHashSet(StringComparer.Ordinal);

    /// <summary>After a failed rollout: the pods and the latest Warning events, so the report says why.</summary>
    async Task<int> DescribeFailureAsync(CancellationToken ct)
    {
        var pods = await client.CoreV1.ListNamespacedPodAsync(set.Namespace, cancellationToken: ct);
        foreach (var p in pods.Items)
            report.Info($"pod {p.Metadata.Name}: {p.Status?.Phase}, ready {p.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status}, {set.LabelName}={(p.Metadata.Labels?.TryGetValue(set.LabelName, out var v) == true ? v : "-")}"
                        + string.Concat((p.Status?.ContainerStatuses ?? []).Concat(p.Status?.InitContainerStatuses ?? []).Where(c => c.State?.Waiting is not null).Select(c => $"; {c.Name} waiting: {c.State.Waiting.Reason}")));
        var warnings = (await client.CoreV1.ListNamespacedEventAsync(set.Namespace, cancellationToken: ct)).Items.Where(e => e.Type == "Warning").TakeLast(10);
        foreach (var e in warnings) report.Info($"Warning {e.Reason} {e.InvolvedObject?.Kind}/{e.InvolvedObject?.Name}: {e.Message}");
        return 1;
    }

    async Task<string> CleanUpAsync(string? ns)
    {
        if (ns is null) return "nothing was created";
        if (options.Keep) return $"namespace {ns} kept (--keep): delete it with kubectl delete namespace {ns}";
        // Pods get their grace period (60 s, a master's handover inside it) and volumes are released: minutes, not seconds.
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await client.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: cts.Token);
            while (await NamespaceExistsAsync(ns, cts.Token)) await Task.Delay(TimeSpan.FromSeconds(2), cts.Token);
            return $"namespace {ns} deleted";
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return $"namespace {ns} deleted";
        }
        catch (Exception e) when (e is OperationCanceledException or HttpOperationException or HttpRequestException)
        {
            return $"namespace {ns} NOT confirmed deleted ({Describe(e)}): kubectl delete namespace {ns}";
        }
    }

    static string Describe(Exception e) => e switch
    {
        HttpOperationException h => $"{h.Message}: {Shorten(h.Response.Content)}",
        OperationCanceledException => "timed out",
        InvalidOperationException or TimeoutException or IOException or HttpRequestException or k8s.Exceptions.KubeConfigException => e.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    static string LastLine(string s) => s.TrimEnd().Split('\n').LastOrDefault()?.Trim() ?? "";

    static string Shorten(string? s) => s is null ? "" : s.Length <= 120 ? s : s[..120] + "…";
}
