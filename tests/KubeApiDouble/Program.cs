// Standalone mode: serve the double as its own process until SIGTERM/SIGINT.
//   dotnet KubeApiDouble.dll --listen 127.0.0.1:PORT --kubeconfig PATH --namespace NS
//       --pods redis-0,redis-1,redis-2 [--readiness-gate TYPE]... [--label POD:KEY=VALUE]...
// Prints exactly one line, "listening on http://HOST:PORT", once it accepts connections.
using System.Net;
using System.Runtime.InteropServices;
using RedisSidecars.KubeApiDouble;

const string Usage = "usage: KubeApiDouble --listen HOST:PORT [--kubeconfig PATH] [--namespace NS] [--pods a,b,c] "
    + "[--readiness-gate TYPE]... [--label POD:KEY=VALUE]...";

var listen = new IPEndPoint(IPAddress.Loopback, 0);
string? kubeconfig = null;
var ns = "default";
List<string> pods = [];
List<string> gates = [];
List<(string Pod, string Key, string Value)> labels = [];
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

await using var api = await KubeApiServer.StartAsync(listen.Address, listen.Port);
foreach (var pod in pods)
{
    var podLabels = labels.Where(l => l.Pod == pod).ToDictionary(l => l.Key, l => l.Value);
    api.AddPod(ns, pod, podLabels, gates);
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
