using System.Diagnostics;
using System.Text;

namespace RedisSidecars.E2E.Cluster;

/// <summary>
/// Runs kubectl and sh. Unlike the test harness's runner these inherit the whole environment: kubectl's credential
/// plugins (cloud logins) read variables the suite cannot know. Every process started here is tracked and killed
/// when the suite ends.
/// </summary>
public static class Processes
{
    static readonly List<Process> Running = [];

    public sealed record Result(int Code, string Stdout, string Stderr);

    /// <summary>Runs to completion within <paramref name="timeout"/> (then kills it and throws <see cref="TimeoutException"/>).</summary>
    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, CancellationToken ct, string? workDir = null)
    {
        var psi = Start(file, args, workDir);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        Track(p);
        try
        {
            var stdout = p.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = p.StandardError.ReadToEndAsync(CancellationToken.None);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            try
            {
                await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(p);
                if (ct.IsCancellationRequested) throw;
                throw new TimeoutException($"{Path.GetFileName(file)} {string.Join(' ', psi.ArgumentList.Take(4))} … did not finish within {timeout.TotalSeconds:0} s");
            }
            return new Result(p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        finally
        {
            Untrack(p);
        }
    }

    /// <summary>Starts a long-running process and hands each stdout line to <paramref name="onLine"/> as it arrives.</summary>
    public static Process StartStreaming(string file, IEnumerable<string> args, Action<string> onLine, Action<string>? onError = null)
    {
        var p = Process.Start(Start(file, args, null)) ?? throw new InvalidOperationException($"cannot start {file}");
        Track(p);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) onLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) onError?.Invoke(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public static void Stop(Process p)
    {
        Kill(p);
        Untrack(p);
        p.Dispose();
    }

    /// <summary>Kills every process still running (the suite's exit path).</summary>
    public static void StopAll()
    {
        Process[] all;
        lock (Running) all = Running.ToArray();
        foreach (var p in all) Kill(p);
    }

    static ProcessStartInfo Start(string file, IEnumerable<string> args, string? workDir)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // closed at once: nothing here reads a terminal
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        if (workDir is not null) psi.WorkingDirectory = workDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    static void Track(Process p)
    {
        p.StandardInput.Close();
        lock (Running) Running.Add(p);
    }

    static void Untrack(Process p) { lock (Running) Running.Remove(p); }

    static void Kill(Process p)
    {
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }
}
