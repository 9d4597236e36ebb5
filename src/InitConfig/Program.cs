using System.Runtime.InteropServices;
using RedisSidecars.InitConfig;

using var cts = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; cts.Cancel(); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; cts.Cancel(); });
try
{
    return await new InitRunner(Console.Out, Console.Error, TimeProvider.System).RunAsync(args, cts.Token);
}
catch (OperationCanceledException) when (cts.IsCancellationRequested)
{
    Console.Error.WriteLine("redis-init: error: interrupted; no config written");
    return ExitCodes.RuntimeFailure;
}
