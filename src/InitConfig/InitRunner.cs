using System.Diagnostics;
using System.Reflection;
using RedisSidecars.Core.Discovery;
using RedisSidecars.Core.Rendering;
using RedisSidecars.Core.Settings;
using RedisSidecars.InitConfig.Cli;
using RedisSidecars.InitConfig.Output;
using RedisSidecars.Redis;

namespace RedisSidecars.InitConfig;

public static class ExitCodes
{
    public const int Ok = 0;
    public const int RuntimeFailure = 1;
    public const int BadConfiguration = 2;
}

/// <summary>
/// redis-init: validate settings, find the master, apply the empty-restart guard, render and write
/// the config atomically. Prints one decision line on stdout; diagnostics and errors on stderr.
/// </summary>
public sealed class InitRunner(
    TextWriter stdout,
    TextWriter stderr,
    TimeProvider time,
    IDictionary<string, string?>? environment = null,
    Func<CommonSettings, IDiscoveryClient>? clientFactory = null)
{
    static readonly TimeSpan GuardPoll = TimeSpan.FromSeconds(1);

    public static string Version =>
        typeof(InitRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public async Task<int> RunAsync(IReadOnlyList<string> argv, CancellationToken ct)
    {
        var args = InitArgs.Parse(argv, out var usageError);
        if (args is null) return Fail(ExitCodes.BadConfiguration, usageError!);
        switch (args.Mode)
        {
            case InitMode.Help: stdout.WriteLine(InitArgs.Usage); return ExitCodes.Ok;
            case InitMode.Version: stdout.WriteLine($"redis-init {Version}"); return ExitCodes.Ok;
        }

        var mode = args.Mode == InitMode.Redis ? NodeMode.Redis : NodeMode.Sentinel;
        if (SettingsLoader.TryBuild(args.SettingArgs, args.ConfigFile, environment, out var configError) is not { } configuration)
            return Fail(ExitCodes.BadConfiguration, configError!);
        var files = PhysicalSettingsFiles.Instance;
        var (settings, errors) = SettingsValidator.Validate(SettingsLoader.BindRaw(configuration), mode, files);
        var problems = errors.ToList();
        string? template = null;
        if (args.Template is not null)
        {
            const string expected = "the base config file, e.g. from a ConfigMap";
            template = PathProblem.TryRead(files, args.Template, out var templateProblem);
            if (template is null) problems.Add($"--template '{Printable(args.Template)}' {templateProblem} (expected {expected})");
            else if (settings is { Tls: null } && ListenerDirectives.TlsListenerInTemplate(template) is { } tlsLine)
                problems.Add($"--template '{Printable(args.Template)}' has '{Printable(tlsLine)}' but TLS_ENABLED is not true: redis-init owns port and tls-port " +
                    "and would write a plain-text port (expected TLS_ENABLED=true with TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE, or no tls-port line in the template)");
        }
        if (AtomicFile.ProbeWritable(args.Output) is { } outputProblem)
            problems.Add($"--output '{Printable(args.Output)}' {outputProblem} (expected the path of the config file to write, in a writable directory such as an emptyDir)");
        if (mode == NodeMode.Redis && settings is not null && DataDir.Problem(settings.DataDir) is { } dataProblem)
            problems.Add($"DATA_DIR='{Printable(settings.DataDir)}' {dataProblem} (expected the mount path of the Redis data volume, e.g. /data)");
        if (problems.Count > 0 || settings is null) return Fail(ExitCodes.BadConfiguration, SettingsValidator.OneLine(problems));

        var client = clientFactory?.Invoke(settings) ?? new DiscoveryClient(settings, $"redis-init-{settings.PodName}");
        var discovery = new MasterDiscovery(settings, client, time);
        var outputDir = Path.GetDirectoryName(Path.GetFullPath(args.Output))!;

        string content, line;
        if (mode == NodeMode.Redis)
        {
            var (result, plan, waited) = await DecideRedisAsync(settings, discovery, ct).ConfigureAwait(false);
            if (plan is null) return ExitCodes.RuntimeFailure;
            var isMaster = plan.Action == StartupAction.BecomeMaster;
            line = $"role={(isMaster ? "master" : "replica")} master={result.Decision.Master} source={result.Decision.SourceName} {result.Decision.Detail}"
                + (waited is { } w ? $" guard=waited-{w.TotalSeconds:0.0}s" : "");
            content = RedisConfRenderer.Render(new RedisConfInput
            {
                Template = template ?? RedisConfRenderer.BuiltInTemplate(settings.DataDir),
                Announce = settings.Self!.Value,
                ReplicaOf = isMaster ? null : result.Decision.Master,
                Port = settings.RedisPort,
                Password = settings.RedisPassword,
                Username = settings.RedisUsername,
                MinReplicasToWrite = settings.MinReplicasToWrite,
                MinReplicasMaxLag = settings.MinReplicasMaxLag,
                Tls = settings.Tls,
                Decision = line,
            });
        }
        else
        {
            var result = await discovery.DiscoverAsync(withPeers: false, ct).ConfigureAwait(false);
            Explain(result);
            line = $"role=sentinel master={result.Decision.Master} source={result.Decision.SourceName} {result.Decision.Detail}";
            content = SentinelConfRenderer.Render(new SentinelConfInput
            {
                Template = template ?? SentinelConfRenderer.BuiltInTemplate(outputDir),
                MasterSetName = settings.MasterSetName,
                Master = result.Decision.Master,
                Quorum = settings.SentinelQuorum,
                Announce = settings.Self!.Value,
                MyId = SentinelConfRenderer.MyId(settings.Namespace, settings.PodName!),
                DownAfterMs = settings.DownAfterMs,
                FailoverTimeoutMs = settings.FailoverTimeoutMs,
                ParallelSyncs = settings.ParallelSyncs,
                MasterRebootDownAfterMs = settings.MasterRebootDownAfterMs,
                RedisPassword = settings.RedisPassword,
                RedisUsername = settings.RedisUsername,
                SentinelPassword = settings.SentinelPassword,
                Tls = settings.Tls,
                Decision = line,
            });
        }

        try { AtomicFile.Write(args.Output, content); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(ExitCodes.RuntimeFailure, $"cannot write '{Printable(args.Output)}': it {PathProblem.OfAccess(e, writing: true)}; the previous file, if any, is unchanged");
        }
        stdout.WriteLine(line);
        return ExitCodes.Ok;
    }

    async Task<(DiscoveryResult Result, StartupPlan? Plan, TimeSpan? Waited)> DecideRedisAsync(CommonSettings s, MasterDiscovery discovery, CancellationToken ct)
    {
        var start = time.GetTimestamp();
        var warned = false;
        while (true)
        {
            var result = await discovery.DiscoverAsync(m => s.IsMe(m) && !DataDir.HasData(s.DataDir), ct).ConfigureAwait(false);
            var isMe = s.IsMe(result.Decision.Master);
            var plan = StartupPlanner.Plan(result.Decision, isMe, DataDir.HasData(s.DataDir), result.Peers, s.RedisNodes.Count - 1);
            if (plan.Action != StartupAction.WaitForFailover)
            {
                Explain(result);
                return (result, plan, warned ? time.GetElapsedTime(start) : null);
            }
            var waited = time.GetElapsedTime(start);
            if (!warned)
            {
                stderr.WriteLine($"redis-init: warning: {plan.Reason}; DATA_DIR '{s.DataDir}' is empty; waiting up to {s.MasterWaitTimeout.TotalSeconds:0}s (MASTER_WAIT_TIMEOUT_MS) for Sentinel to promote a replica");
                warned = true;
            }
            if (waited >= s.MasterWaitTimeout)
            {
                Fail(ExitCodes.RuntimeFailure,
                    $"refusing to start as master with an empty data directory: the {result.Decision.SourceName} still name this pod ({result.Decision.Master}) after {waited.TotalSeconds:0}s (MASTER_WAIT_TIMEOUT_MS); no config written. Check that a replica with data is up and that Sentinel can fail over");
                return (result, null, waited);
            }
            await Task.Delay(GuardPoll, time, ct).ConfigureAwait(false);
        }
    }

    void Explain(DiscoveryResult r)
    {
        if (r.Decision.Warning is { } w) stderr.WriteLine($"redis-init: warning: {w}");
        if (r.Decision.Source == DecisionSource.Sentinels) return;
        foreach (var a in r.Sentinels.Where(a => !a.Answered))
            stderr.WriteLine($"redis-init: sentinel {a.Sentinel}: {a.Error}");
        foreach (var a in r.Peers.Where(a => !a.Answered))
            stderr.WriteLine($"redis-init: peer {a.Peer}: {a.Error}");
    }

    int Fail(int code, string message)
    {
        stderr.WriteLine($"redis-init: error: {message}");
        return code;
    }

    static string Printable(string? s) => Core.Addressing.NodeAddress.Printable(s);
}
