using System.ComponentModel;
using System.Globalization;
using System.Net;
using System.Text;

namespace RedisSidecars.Testing;

/// <summary>
/// One side of a <see cref="LoopbackPartition"/>. <see cref="Addresses"/>: loopback addresses that servers bind (Redis and
/// Sentinel take the source address of their outgoing connections from their first bind address, so every packet they
/// send or receive carries one). <see cref="Uids"/>: processes that cannot choose a source address (the sidecars, which
/// connect from 127.0.0.1 like every test client): run each under a uid of its own (<see cref="SidecarSet"/>'s
/// <c>sidecarUids</c>) and its traffic to the other side is matched by owner.
/// </summary>
public sealed record PartitionSide(IReadOnlyCollection<string> Addresses, IReadOnlyCollection<int>? Uids = null)
{
    public override string ToString() =>
        string.Join(",", Addresses) + (Uids is { Count: > 0 } u ? " uid " + string.Join(",", u) : "");
}

/// <summary>
/// A real network partition on loopback: iptables rules in the filter table's OUTPUT chain (every loopback packet passes
/// it) that drop traffic both ways between two sets of 127.x addresses, and from the processes of the given uids to the
/// other side's addresses. The reverse direction of a uid's connections (replies, pushes on a connection that existed
/// before the cut) is dropped through a connection mark its packets set. Packets are dropped, not rejected: as in a real
/// partition, connections hang until their own timeouts.
/// <para>
/// All rules go in with one <c>iptables-restore --noflush</c> (one transaction: the cut is instantaneous) and carry a
/// comment naming this process and partition; nothing else is ever touched. They are removed on <see cref="Dispose"/>
/// (the heal) and when the process exits; rules a killed process left behind (its pid no longer running with the same
/// start time) are removed before the first cut of the next process.
/// </para>
/// </summary>
public sealed class LoopbackPartition : IDisposable
{
    const string TagPrefix = "redis-sidecars-cut_"; // letters, digits, - and _ only: iptables -S prints such a comment unquoted
    const string ConnMark = "0x00520000/0x00520000";
    static readonly TimeSpan IptablesTimeout = TimeSpan.FromSeconds(30);
    static readonly List<LoopbackPartition> Live = [];
    static readonly string ProcessTag = $"{TagPrefix}{Environment.ProcessId}_{StartTime("self")}_";
    static int sequence;
    static bool staleRemoved;

    readonly string tag;
    bool healed;

    static LoopbackPartition() => AppDomain.CurrentDomain.ProcessExit += (_, _) => HealAll();

    LoopbackPartition(string name, string tag, PartitionSide a, PartitionSide b)
    {
        Name = name;
        this.tag = tag;
        A = a;
        B = b;
    }

    public string Name { get; }
    /// <summary>The iptables comment on every rule of this partition.</summary>
    public string Tag => tag;
    public PartitionSide A { get; }
    public PartitionSide B { get; }

    public override string ToString() => $"{Name}: [{A}] | [{B}]";

    /// <summary>
    /// Fails with one clear line unless iptables can be used here (installed, root or CAP_NET_ADMIN, the owner, connmark
    /// and comment matches available), and removes rules a killed earlier process left. Tests that need a partition call
    /// it first: a missing tool is a failure, never a skip.
    /// </summary>
    public static async Task EnsureUsableAsync()
    {
        await ListRulesAsync();
        if (Environment.UserName != "root")
            throw new InvalidOperationException($"a loopback partition needs root (iptables, and setpriv to run each sidecar under its own uid); running as {Environment.UserName}");
        lock (Live)
        {
            if (staleRemoved) return;
            staleRemoved = true;
        }
        await RemoveStaleRulesAsync();
    }

    /// <summary>Cuts <paramref name="a"/> from <paramref name="b"/>; <see cref="Dispose"/> heals.</summary>
    public static async Task<LoopbackPartition> CutAsync(string name, PartitionSide a, PartitionSide b)
    {
        foreach (var address in a.Addresses.Concat(b.Addresses))
        {
            if (!IPAddress.TryParse(address, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || ip.GetAddressBytes()[0] != 127)
                throw new ArgumentException($"a loopback partition cuts only 127.x addresses, not '{address}'");
        }
        if (a.Addresses.Count + (a.Uids?.Count ?? 0) == 0 || b.Addresses.Count == 0 && (b.Uids?.Count ?? 0) == 0)
            throw new ArgumentException("both sides of a partition need an address or a uid");
        await EnsureUsableAsync();
        var partition = new LoopbackPartition(name, ProcessTag + Interlocked.Increment(ref sequence).ToString(CultureInfo.InvariantCulture), a, b);
        var rules = partition.Rules().ToList();
        if (rules.Count == 0) throw new ArgumentException($"{partition}: nothing to cut (uids need addresses on the other side)");
        lock (Live) Live.Add(partition);
        var script = new StringBuilder("*filter\n");
        // Inserted at the top, in this order: a uid's connection is marked before its packet is dropped.
        for (var i = 0; i < rules.Count; i++) script.Append(CultureInfo.InvariantCulture, $"-I OUTPUT {i + 1} {rules[i]}\n");
        script.Append("COMMIT\n");
        await RestoreAsync(script.ToString(), $"cut {partition}");
        return partition;
    }

    IEnumerable<string> Rules()
    {
        var comment = $"-m comment --comment {tag}";
        foreach (var x in A.Addresses)
        {
            foreach (var y in B.Addresses)
            {
                yield return $"-s {x}/32 -d {y}/32 {comment} -j DROP";
                yield return $"-s {y}/32 -d {x}/32 {comment} -j DROP";
            }
        }
        foreach (var (uids, others) in new[] { (A.Uids, B.Addresses), (B.Uids, A.Addresses) })
        {
            foreach (var uid in uids ?? [])
            {
                foreach (var y in others)
                {
                    yield return $"-d {y}/32 -m owner --uid-owner {uid} {comment} -j CONNMARK --set-xmark {ConnMark}";
                    yield return $"-d {y}/32 -m owner --uid-owner {uid} {comment} -j DROP";
                }
            }
            foreach (var y in uids is { Count: > 0 } ? others : []) yield return $"-s {y}/32 -m connmark --mark {ConnMark} {comment} -j DROP";
        }
    }

    /// <summary>Heals: removes this partition's rules (every rule carrying its tag).</summary>
    public void Dispose()
    {
        lock (Live)
        {
            if (healed) return;
            healed = true;
            Live.Remove(this);
        }
        RemoveTaggedAsync(line => line.Contains("--comment " + tag + " ", StringComparison.Ordinal), $"heal {this}").GetAwaiter().GetResult();
    }

    static void HealAll()
    {
        LoopbackPartition[] all;
        lock (Live) all = Live.ToArray();
        foreach (var p in all)
        {
            try { p.Dispose(); }
            catch (InvalidOperationException) { } // at exit: nothing left to report to
        }
    }

    /// <summary>Removes the rules tagged by a process that no longer runs (killed before its exit handler could heal).</summary>
    public static Task RemoveStaleRulesAsync() => RemoveTaggedAsync(line =>
    {
        var at = line.IndexOf("--comment " + TagPrefix, StringComparison.Ordinal);
        if (at < 0) return false;
        var owner = line[(at + "--comment ".Length + TagPrefix.Length)..].Split(' ')[0].Split('_');
        return owner.Length != 3 || StartTime(owner[0]) != owner[1];
    }, "remove stale partition rules");

    static async Task RemoveTaggedAsync(Func<string, bool> match, string what)
    {
        var doomed = (await ListRulesAsync()).Where(l => l.StartsWith("-A OUTPUT ", StringComparison.Ordinal) && match(l.Replace("\"", "", StringComparison.Ordinal) + " ")).ToList();
        if (doomed.Count == 0) return;
        var script = new StringBuilder("*filter\n");
        foreach (var line in doomed) script.Append("-D ").Append(line.AsSpan(3)).Append('\n');
        script.Append("COMMIT\n");
        await RestoreAsync(script.ToString(), what);
    }

    /// <summary>The OUTPUT chain as <c>iptables -S OUTPUT</c> prints it.</summary>
    public static async Task<string[]> ListRulesAsync()
    {
        var (code, stdout, stderr) = await RunAsync("iptables", ["-w", "10", "-S", "OUTPUT"]);
        if (code != 0) throw Unusable($"`iptables -S OUTPUT` exited {code}: {stderr.Trim()}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    static async Task RestoreAsync(string script, string what)
    {
        var file = Path.Combine(Path.GetTempPath(), $"redis-sidecars-cut-{Environment.ProcessId}-{Guid.NewGuid():N}.rules");
        File.WriteAllText(file, script);
        try
        {
            var (code, _, stderr) = await RunAsync("iptables-restore", ["-w", "10", "--noflush", file]);
            if (code != 0) throw Unusable($"{what}: iptables-restore exited {code}: {stderr.Trim()}");
        }
        finally { File.Delete(file); }
    }

    static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string tool, string[] args)
    {
        var path = WhichSbin(tool);
        try { return await Tools.RunAsync(path, args, new Dictionary<string, string>(), IptablesTimeout); }
        catch (Win32Exception e) { throw Unusable($"{path} cannot be started ({e.Message})"); }
    }

    static string WhichSbin(string tool) =>
        new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists)
        ?? throw Unusable($"{tool} is not installed");

    static InvalidOperationException Unusable(string detail) =>
        new($"a loopback partition needs iptables (root, the owner/connmark/comment matches): {detail}; run `bash scripts/install-deps.sh` as root (it installs iptables)");

    /// <summary>A process's start time in clock ticks since boot (<c>/proc/PID/stat</c> field 22), or "" if it is gone: with the pid, it names one process.</summary>
    static string StartTime(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }
}
