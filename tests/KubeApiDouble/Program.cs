// Standalone mode: serve the double as its own process until SIGTERM/SIGINT.
//   dotnet KubeApiDouble.dll --listen 127.0.0.1:PORT --kubeconfig PATH --namespace NS
//       --pods redis-0,redis-1,redis-2 [--statefulset redis] [--readiness-gate TYPE]... [--label POD:KEY=VALUE]...
//       [--latency-ms 4] [--watch-expiry-seconds 1800] [--bookmark-seconds 60] [--watch-history-seconds 75]
//       [--readiness-probe POD=URL]... [--probe-period-ms 10000] [--probe-failure-threshold 3]
//   --readiness-probe: the kubelet's part (KubeApiServer.ProbeReadiness), so /_double/endpoints shows a Service's ready endpoints.
// Prints exactly one line, "listening on http://HOST:PORT", once it accepts connections.
using System.Net;
using System.Runtime.InteropServices;
using RedisSidecars.KubeApiDouble;

const string Usage = "usage: KubeApiDouble --listen HOST:PORT [--kubeconfig PATH] [--namespace NS] [--pods a,b,c] [--statefulset NAME] "
    + "[--readiness-gate TYPE]... [--label POD:KEY=VALUE]... [--latency-ms N] [--watch-expiry-seconds N] [--bookmark-seconds N] "
    + "[--watch-history-seconds N] [--readiness-probe POD=URL]... [--probe-period-ms N] [--probe-failure-threshold N]";

var listen = new IPEndPoint(IPAddress.Loopback, 0);
string? kubeconfig = null;
var ns = "default";
List<string> pods = [];
List<string> gates = [];
List<(string Pod, string Key, string Value)> labels = [];
string? statefulSet = null;
List<(string Pod, Uri Url)> probes = [];
var probe = ProbeSettings.KubeletDefaults;
var options = new KubeApiOptions();
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--listen":
                var text = Next();
                listen = IPEndPoint.TryParse(text, out var endpoint) ? endpoint
                    : throw new ArgumentException($"--listen '{text}' is not HOST:PORT with an IP address, e.g. 127.0.0.1:8001");
                break;
            case "--kubeconfig":
                kubeconfig = Next();
                break;
            case "--namespace":
                ns = Next();
                break;
            case "--pods":
                pods.AddRange(Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                break;
            case "--readiness-gate":
                gates.Add(Next());
                break;
            case "--label":
                var spec = Next();
                var colon = spec.IndexOf(':', StringComparison.Ordinal);
                var equals = spec.IndexOf('=', StringComparison.Ordinal);
                labels.Add(colon > 0 && equals > colon ? (spec[..colon], spec[(colon + 1)..equals], spec[(equals + 1)..])
                    : throw new ArgumentException($"--label '{spec}' is not POD:KEY=VALUE"));
                break;
            case "--statefulset":
                statefulSet = Next();
                break;
            case "--latency-ms":
                options = options with { Latency = TimeSpan.FromMilliseconds(NonNegative("--latency-ms", Next())) };
                break;
            case "--watch-expiry-seconds":
                options = options with { WatchExpiry = TimeSpan.FromSeconds(Positive("--watch-expiry-seconds", Next())) };
                break;
            case "--bookmark-seconds":
                options = options with { BookmarkInterval = TimeSpan.FromSeconds(Positive("--bookmark-seconds", Next())) };
                break;
            case "--watch-history-seconds":
                options = options with { WatchHistory = TimeSpan.FromSeconds(NonNegative("--watch-history-seconds", Next())) };
                break;
            case "--readiness-probe":
                var probeSpec = Next();
                var eq = probeSpec.IndexOf('=', StringComparison.Ordinal);
                probes.Add(eq > 0 && Uri.TryCreate(probeSpec[(eq + 1)..], UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttp
                    ? (probeSpec[..eq], url)
                    : throw new ArgumentException($"--readiness-probe '{probeSpec}' is not POD=http://HOST:PORT/PATH"));
                break;
            case "--probe-period-ms":
                probe = probe with { Period = TimeSpan.FromMilliseconds(Positive("--probe-period-ms", Next())) };
                break;
            case "--probe-failure-threshold":
                probe = probe with { FailureThreshold = Positive("--probe-failure-threshold", Next()) };
                break;
            case "--help" or "-h":
                Console.WriteLine(Usage);
                return 0;
            default:
                throw new ArgumentException($"unknown argument '{args[i]}'");
        }
    }
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"KubeApiDouble: {e.Message}; {Usage}");
    return 2;
}

await using var api = await KubeApiServer.StartAsync(listen.Address, listen.Port, options: options);
if (statefulSet is not null)
{
    api.AddStatefulSet(ns, statefulSet, pods.Count(p => p.StartsWith(statefulSet + "-", StringComparison.Ordinal)),
        new Dictionary<string, string> { ["app"] = statefulSet }, gates, createPods: false);
}

foreach (var pod in pods)
{
    var podLabels = labels.Where(l => l.Pod == pod).ToDictionary(l => l.Key, l => l.Value);
    api.AddPod(ns, pod, podLabels, gates);
}

foreach (var (pod, url) in probes)
{
    api.ProbeReadiness(ns, pod, url, probe);
}

if (kubeconfig is not null)
{
    api.WriteKubeconfig(kubeconfig, ns);
}

var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
Console.WriteLine($"listening on {api.BaseAddress.ToString().TrimEnd('/')}");
Console.Out.Flush();
await stop.Task;
return 0;

static int NonNegative(string flag, string text) =>
    int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
        ? n
        : throw new ArgumentException($"{flag} '{text}' is not a non-negative whole number");

static int Positive(string flag, string text) =>
    NonNegative(flag, text) is > 0 and var n ? n : throw new ArgumentException($"{flag} '{text}' must be greater than 0");
