using System.Diagnostics;
using System.Runtime.InteropServices;
using RedisSidecars.E2E;

var options = E2EOptions.Parse(args, Environment.GetEnvironmentVariable, out var errors, out var help);
if (help)
{
    Console.Out.WriteLine(E2EOptions.Usage);
    return 0;
}
if (options is null)
{
    foreach (var e in errors) Console.Error.WriteLine($"e2e: {e}");
    Console.Error.WriteLine(E2EOptions.Usage);
    return 2;
}

var clock = Stopwatch.StartNew();
using var cts = new CancellationTokenSource();
// Ctrl+C, SIGTERM, SIGHUP: stop the steps and still clean up (the suite's finally deletes the namespace).
void Cancel(PosixSignalContext c)
{
    c.Cancel = true;
    Console.Error.WriteLine($"e2e: {c.Signal}: stopping, cleaning up");
    cts.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Cancel);

var report = new Report(Console.Out, () => clock.Elapsed);
return await new Suite(options, report, () => clock.Elapsed).RunAsync(cts.Token);
