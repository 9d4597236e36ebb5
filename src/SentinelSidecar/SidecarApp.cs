using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using RedisSidecars.Core.Settings;
using RedisSidecars.Sidecar.Hosting;
using RedisSidecars.Sidecar.Kubernetes;
using RedisSidecars.Sidecar.Redis;
using RedisSidecars.Sidecar.Sentinel;
using RedisSidecars.Sidecar.Verify;

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
        HTTP (HTTP_PORT, default 9180): GET /livez, GET /readyz, GET /metrics, POST|GET /handover.
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

    static IKubernetes? TryKubernetes(SidecarSettings s)
    {
        if (s.KubeConfig is null && !KubernetesClientConfiguration.IsInCluster()) return null;
        return PodWriter.CreateClient(s);
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

        IKubernetes kube;
        try { kube = PodWriter.CreateClient(settings); }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException or InvalidOperationException)
        {
            return Fail($"cannot build a Kubernetes client ({e.GetType().Name}); expected KUBECONFIG to name a valid kubeconfig, or an in-cluster service account");
        }
        var pods = new PodWriter(kube, settings, logger, metrics, time);
        await using var local = await LocalRedisClient.ConnectAsync(settings).ConfigureAwait(false);
        await using var sentinels = new SentinelWatcher(settings.Common, logger, time);
        var worker = new ReconcileWorker(settings, sentinels, local, pods, metrics, logger, time);
        var handover = new HandoverCoordinator(settings, worker, local, sentinels, metrics, logger, time);

        using var loopCts = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        var http = new HttpEndpoints(settings.HttpHost, settings.HttpPort, () => worker.Alive, () => worker.Ready, metrics.Render,
            ct => handover.HandoverAsync("POST /handover", ct), logger);
        try { http.Start(); }
        catch (System.Net.Sockets.SocketException e)
        {
            return Fail($"HTTP_HOST:HTTP_PORT={settings.HttpHost}:{settings.HttpPort} cannot be bound ({e.SocketErrorCode}; expected a free port)");
        }

        var terminating = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; terminating.TrySetResult(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; terminating.TrySetResult(); });

        Log.Started(logger, Version, settings.Common.PodName!, settings.Common.Namespace, settings.LocalRedis.ToString(),
            settings.Common.SentinelNodes.Count, $"{settings.LabelName}={settings.MasterLabelValue}");
        await sentinels.StartAsync(worker.OnSwitchAsync, worker.OnSentinelEvent, loopCts.Token).ConfigureAwait(false);
        var loop = worker.RunAsync(loopCts.Token);
        var server = http.RunAsync(loopCts.Token);

        var ended = await Task.WhenAny(loop, terminating.Task).ConfigureAwait(false);
        if (ended == loop)
        {
            // The loop only ends by itself on a fault: fail loudly so Kubernetes restarts the container.
            var why = loop.Exception?.GetBaseException() is { } ex ? $"{ex.GetType().Name}: {ex.Message}" : $"reconcile loop ended ({loop.Status})";
            Log.ReconcileFailed(logger, why);
            await loopCts.CancelAsync().ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        // The one shutdown path: hand mastership over (bounded), then stop.
        Log.ShuttingDown(logger, "SIGTERM: handing over mastership if this pod is master");
        using var bound = new CancellationTokenSource(settings.HandoverTimeout + TimeSpan.FromSeconds(2));
        try { await handover.HandoverAsync("SIGTERM", bound.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { Log.HandoverProblem(logger, "handover did not finish within HANDOVER_TIMEOUT_MS"); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.HandoverProblem(logger, "handover failed: " + e.Message);
        }
        await loopCts.CancelAsync().ConfigureAwait(false);
        try { await Task.WhenAll(loop, server).ConfigureAwait(false); } catch (OperationCanceledException) { }
        return ExitCodes.Ok;
    }
}
