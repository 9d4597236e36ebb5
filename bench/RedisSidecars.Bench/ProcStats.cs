using System.Globalization;

namespace RedisSidecars.Bench;

/// <summary>One process as <c>/proc/PID/status</c> and <c>/proc/PID/stat</c> describe it.</summary>
/// <param name="RssFileMb">RssFile: mapped file pages resident (the binary's code and data; shared with other copies).</param>
/// <param name="RssAnonMb">RssAnon: the heap, stacks and GC pages (the process's own memory).</param>
/// <param name="CpuSeconds">utime + stime.</param>
public sealed record ProcSample(double RssFileMb, double RssAnonMb, double RssShmemMb, int Threads, double CpuSeconds)
{
    /// <summary>VmRSS, the working set.</summary>
    public double RssMb => RssFileMb + RssAnonMb + RssShmemMb;

    public override string ToString() =>
        $"{RssMb.ToString("0.0", CultureInfo.InvariantCulture)} MB (file {RssFileMb.ToString("0.0", CultureInfo.InvariantCulture)} + anon {RssAnonMb.ToString("0.0", CultureInfo.InvariantCulture)}), {Threads} threads";

    public static ProcSample Read(int pid)
    {
        double file = 0, anon = 0, shmem = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            var parts = line.Split((char[])[' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || parts[0] is not ("RssFile" or "RssAnon" or "RssShmem" or "Threads")) continue;
            var value = long.Parse(parts[1], CultureInfo.InvariantCulture);
            switch (parts[0])
            {
                case "RssFile": file = value / 1024.0; break;
                case "RssAnon": anon = value / 1024.0; break;
                case "RssShmem": shmem = value / 1024.0; break;
                case "Threads": threads = (int)value; break;
            }
        }
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0; // USER_HZ
        return new ProcSample(file, anon, shmem, threads, cpu);
    }
}

/// <summary>The three sidecars of a set, sampled together: RSS split, threads, CPU between two samples, and the peak RSS seen.</summary>
public sealed class SidecarSamples(IReadOnlyList<int> pids)
{
    ProcSample[] last = [.. pids.Select(ProcSample.Read)];
    DateTime lastAt = DateTime.UtcNow;

    /// <summary>Largest working set of any of them across every <see cref="Take"/> since the last <see cref="ResetPeak"/>.</summary>
    public ProcSample Peak { get; private set; } = new(0, 0, 0, 0, 0);

    public ProcSample[] Take()
    {
        var now = pids.Select(ProcSample.Read).ToArray();
        foreach (var s in now) if (s.RssMb > Peak.RssMb) Peak = s;
        return now;
    }

    public void ResetPeak() => Peak = new(0, 0, 0, 0, 0);

    /// <summary>Starts a CPU interval now.</summary>
    public void Mark() { last = Take(); lastAt = DateTime.UtcNow; }

    /// <summary>CPU of each since <see cref="Mark"/>, in % of one core.</summary>
    public double[] CpuPercentSinceMark()
    {
        var now = Take();
        var wall = (DateTime.UtcNow - lastAt).TotalSeconds;
        return [.. now.Select((s, i) => (s.CpuSeconds - last[i].CpuSeconds) / wall * 100)];
    }

    /// <summary>The sample with the largest working set, and every working set, for one table cell and its note.</summary>
    public static (string Value, string Note) Describe(ProcSample[] samples) =>
        (samples.MaxBy(s => s.RssMb)!.ToString(), "largest of 3; all: " + string.Join(", ", samples.Select(s => s.RssMb.ToString("0.0", CultureInfo.InvariantCulture) + " MB")));

    public static string Cpu(double[] percent) => string.Join(", ", percent.Select(c => c.ToString("0.00", CultureInfo.InvariantCulture) + "%"));
}
