using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Roles;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;
using RedisSidecars.Sidecar.Verify;
using RedisSidecars.Sidecar.Telemetry;

namespace RedisSidecars.Sidecar;

public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int BadConfiguration = 2;
}

/// <summary>Command line, settings, wiring and the shutdown path of redis-sidecar.</summary>
public static class SidecarApp
{
    public const string Usage = """
        usage: redis-sidecar [run]      keep this pod's role label and readiness in sync with Sentinel (default)
               redis-sidecar verify     post-deploy check: one line per check, exit 0 only if all pass
               redis-sidecar --help | --version
        Settings come from environment variables (see README), a JSON file (--config FILE), or --NAME=value.
        HTTP: GET /livez, GET /readyz, GET /metrics on HTTP_PORT (default 9180); POST|GET /handover on HANDOVER_PORT (default 9181).
        Exit codes: 0 ok, 2 bad configuration, 1 failure.
        """;

    public static string Version =>
        typeof(SidecarApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static async Task<int> MainAsync(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "run";
        if (args.Contains("--help") || args.Contains("-h") || command == "help") { Console.WriteLine(Usage); return ExitCodes.Ok; }
        if (args.Contains("--version") || command == "version") { Console.WriteLine($"redis-sidecar {Version}"); return ExitCodes.Ok; }
        if (command is not ("run" or "verify"))
        {
            Console.Error.WriteLine($"redis-sidecar: error: unknown command '{Core.Addressing.NodeAddress.Printable(command)}' (expected run or verify)");
            return ExitCodes.BadConfiguration;
        }

        var rest = args.SkipWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        string? configFile = null;
        var i = rest.IndexOf("--config");
        if (i >= 0)
        {
            if (i + 1 >= rest.Count) return Fail("--config needs a path");
            configFile = rest[i + 1];
            rest.RemoveRange(i, 2);
        }
        var unknown = rest.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal) || a.Length < 3 || !char.IsAsciiLetterUpper(a[2]));
        if (unknown is not null) return Fail($"unknown argument '{Core.Addressing.NodeAddress.Printable(unknown)}' (expected --config FILE or --SETTING_NAME=value)");

        if (SettingsLoader.TryBuild(rest, configFile, null, out var configError) is not { } config) return Fail(configError!);
        var (settings, errors) = SidecarSettingsValidator.Validate(SettingsLoader.BindRaw(config), SettingsLoader.BindSidecar(config),
            command == "verify" ? NodeMode.Verify : NodeMode.Redis, PhysicalSettingsFiles.Instance);
        if (settings is null) return Fail(SettingsValidator.OneLine(errors));

        using var cts = new CancellationTokenSource();
        if (command == "verify")
        {
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; cts.Cancel(); });
            return await new VerifyCommand(settings, Console.Out, () => TryKubernetes(settings)).RunAsync(cts.Token).ConfigureAwait(false);
        }
        return await RunAsync(settings, cts).ConfigureAwait(false);
    }

    static KubeApi? TryKubernetes(SidecarSettings s)
    {
        if (s.KubeConfig is null && !KubernetesClientConfiguration.IsInCluster()) return null;
        return PodClient.CreateClient(s);
    }

    static int Fail(string message)
    {
        Console.Error.WriteLine($"redis-sidecar: error: {message}");
        return ExitCodes.BadConfiguration;
    }

    static async Task<int> RunAsync(SidecarSettings settings, CancellationTokenSource stop)
    {
        using var loggerFactory = LoggerFactory.Create(b => b
            .SetMinimumLevel(LogLevel.Information)
            .AddSimpleConsole(o => { o.SingleLine = true; o.IncludeScopes = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; }));
        var logger = loggerFactory.CreateLogger("redis-sidecar");
        using var scope = logger.BeginScope("pod={Pod} namespace={Namespace}", settings.Common.PodName, settings.Common.Namespace);
        var time = TimeProvider.System;
        var metrics = new SidecarMetrics();

        KubeApi kube;
        try { kube = PodClient.CreateClient(settings); }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException or InvalidOperationException)
        {
            return Fail($"cannot build a Kubernetes client ({e.GetType().Name}); expected KUBECONFIG to name a valid kubeconfig, or an in-cluster service account");
        }
        var facts = new KubeFactsWatcher(kube, settings, logger, metrics, time, new KubeWatchOptions { ResyncInterval = settings.KubeResyncInterval });
        // Short bounds: the applier retries on its own and re-plans from the watch between attempts, so a failing
        // condition write never holds a demotion's label write back for long.
        var pods = new PodClient(kube, settings, logger, metrics, time, facts, new PodWriteOptions { AttemptTimeout = TimeSpan.FromSeconds(3), TotalTimeout = TimeSpan.FromSeconds(4) });
        await using var local = await LocalRedisClient.ConnectAsync(settings).ConfigureAwait(false);
        await using var sentinels = new SentinelWatcher(settings.Common, logger, time);
        var applier = new PodStateApplier(settings, facts, pods, metrics, logger, time);
        var worker = new ReconcileWorker(settings, sentinels, local, facts, applier, metrics, logger, time);
        var handover = new HandoverCoordinator(settings, worker, local, sentinels, pods, metrics, logger, time);
        worker.HandoverActive = () => handover.Active;

        using var loopCts = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        var probes = new HttpEndpoints(settings.HttpHost, settings.HttpPort, new Dictionary<string, Func<string, CancellationToken, Task<HttpReply>>>
        {
            ["/livez"] = HttpEndpoints.Get(() => worker.Alive ? HttpReply.Plain(200, "ok\n") : HttpReply.Plain(503, $"reconcile loop stalled: no tick completed within LIVENESS_TIMEOUT_MS ({settings.LivenessTimeout.TotalMilliseconds:0} ms)\n")),
            ["/readyz"] = HttpEndpoints.Get(() => worker.Ready && !handover.Active ? HttpReply.Plain(200, "ready\n") : HttpReply.Plain(503, "not ready\n")),
            ["/metrics"] = HttpEndpoints.Get(() => new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8", metrics.Render())),
        }, logger);
        var handoverEndpoint = new HttpEndpoints(settings.HttpHost, settings.HandoverPort, new Dictionary<string, Func<string, CancellationToken, Task<HttpReply>>>
        {
            // GET too: a preStop httpGet hook can only GET.
            ["/handover"] = async (method, ct) =>
            {
                if (method is not ("POST" or "GET")) return HttpReply.Plain(405, "method not allowed\n");
                var r = await handover.HandoverAsync($"{method} /handover", ct).ConfigureAwait(false);
                return HttpReply.Plain(HandoverOutcomes.IsFailure(r.Outcome) ? 500 : 200, $"{r.Outcome}: {r.Detail} ({r.Took.TotalMilliseconds:0} ms)\n");
            },
        }, logger);
        foreach (var (endpoint, name, port) in new[] { (probes, "HTTP_PORT", settings.HttpPort), (handoverEndpoint, "HANDOVER_PORT", settings.HandoverPort) })
        {
            try { endpoint.Start(); }
            catch (System.Net.Sockets.SocketException e)
            {
                return Fail($"HTTP_HOST:{name}={settings.HttpHost}:{port} cannot be bound ({e.SocketErrorCode}; expected a free port)");
            }
        }

        var terminating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; terminating.TrySetResult(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; terminating.TrySetResult(); });

        Log.Started(logger, Version, settings.Common.PodName!, settings.Common.Namespace, settings.LocalRedis.ToString(),
            settings.Common.SentinelNodes.Count, $"{settings.LabelName}={settings.MasterLabelValue}");
        await sentinels.StartAsync(worker.OnSignalAsync, worker.OnPromotionStarted, worker.Wake,
            (name, instance) => facts.Reprove($"Sentinel reports {name} of {instance}"), loopCts.Token).ConfigureAwait(false);
        var background = new[]
        {
            worker.RunAsync(loopCts.Token),
            facts.RunAsync(loopCts.Token),
            applier.RunAsync(loopCts.Token),
            probes.RunAsync(loopCts.Token),
            handoverEndpoint.RunAsync(loopCts.Token),
        };

        var ended = await Task.WhenAny(background.Append(terminating.Task)).ConfigureAwait(false);
        if (ended != terminating.Task)
        {
            // None of these ends by itself but through a fault (a bug: the edges turn every Redis, Sentinel and API fault
            // into a value). Fail loudly so Kubernetes restarts the container.
            var why = ended.Exception?.GetBaseException() is { } ex ? $"{ex.GetType().Name}: {ex.Message}" : $"a background loop ended ({ended.Status})";
            Log.ReconcileFailed(logger, why);
            await loopCts.CancelAsync().ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        // The one shutdown path: hand mastership over (bounded), then stop.
        Log.ShuttingDown(logger, "SIGTERM: handing over mastership if this pod is master");
        using var bound = new CancellationTokenSource(settings.HandoverTimeout + TimeSpan.FromSeconds(2));
        try
        {
            var r = await handover.HandoverAsync("SIGTERM", bound.Token).ConfigureAwait(false);
            if (r.Outcome == HandoverOutcome.FailoverPending)
                Log.ShuttingDown(logger, "exiting with writes paused: the failover may still happen; the pause lapses within seconds of this exit, by which time the Redis container has stopped");
        }
        catch (OperationCanceledException) { Log.HandoverProblem(logger, "handover did not finish within HANDOVER_TIMEOUT_MS"); }
        await loopCts.CancelAsync().ConfigureAwait(false);
        try { await Task.WhenAll(background).ConfigureAwait(false); } catch (OperationCanceledException) { }
        return ExitCodes.Ok;
    }
}
