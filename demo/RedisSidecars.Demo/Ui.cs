using System.Globalization;
using System.Text;
using RedisSidecars.Testing;

namespace RedisSidecars.Demo;

/// <summary>
/// The live view. Table mode (a terminal): the whole frame is redrawn in place ~4×/s. Plain mode (--no-table,
/// stdout not a terminal, TERM=dumb): one line per event as it happens, and the table again whenever it changed.
/// </summary>
public sealed class Ui(bool table, DateTimeOffset origin)
{
    const string Reset = "\x1b[0m", Bold = "\x1b[1m", Dim = "\x1b[2m", Red = "\x1b[31m", Green = "\x1b[32m", Yellow = "\x1b[33m", Cyan = "\x1b[36m";
    readonly object gate = new();
    readonly List<(DateTimeOffset At, string Text)> events = [];
    readonly List<string> results = [];
    readonly List<Measurement> measured = [];
    Func<Snapshot?, IEnumerable<string>>? hints;
    Snapshot? last;
    string phase = "starting";
    string? footer;
    string? lastPrintedSignature;
    DateTimeOffset lastPrinted;
    int labelChangesSeen, endpointChangesSeen;
    bool started, stopped;

    public bool Table => table;

    public static bool IsTerminal =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is { Length: > 0 } term && term != "dumb";

    public string Stamp(DateTimeOffset at) => "T+" + (at - origin).TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture).PadLeft(7) + "s";

    public void Phase(string text)
    {
        lock (gate)
        {
            phase = text;
            if (!table) Write($"{Stamp(DateTimeOffset.UtcNow)}  == {text}\n");
        }
    }

    public void Event(string text, DateTimeOffset? at = null)
    {
        lock (gate)
        {
            var when = at ?? DateTimeOffset.UtcNow;
            var line = $"{Stamp(when)}  {text}";
            var i = events.Count; // in time order: label changes arrive a poll late, stamped with the double's time
            while (i > 0 && events[i - 1].At > when) i--;
            events.Insert(i, (when, line));
            if (events.Count > 200) events.RemoveAt(0);
            if (!table) Write(line + "\n");
        }
    }

    public void Result(string line)
    {
        lock (gate)
        {
            results.Add(line);
            if (!table) Write(line + "\n");
        }
    }

    /// <summary>A finished failover/handover: plain mode prints the summary so far, table mode shows it in the frame.</summary>
    public void Measured(Measurement m)
    {
        lock (gate)
        {
            measured.Add(m);
            if (!table) Write(string.Join("\n", Scenario.Summary(measured)) + "\n");
        }
    }

    /// <summary>Hints for --keep, regenerated from each snapshot (they name the current master).</summary>
    public void Hints(Func<Snapshot?, IEnumerable<string>> make)
    {
        lock (gate)
        {
            hints = make;
            if (!table) Write(string.Join("\n", make(last)) + "\n");
        }
    }

    public void Footer(string? text) { lock (gate) footer = text; }

    /// <summary>Called by the refresh loop with each new snapshot, the label timeline and the master Service's endpoints: derives events, redraws.</summary>
    public void Update(Snapshot s, IReadOnlyList<LabelChange>? timeline, IReadOnlyList<EndpointsChange>? endpoints)
    {
        lock (gate)
        {
            if (stopped) return;
            if (timeline is not null)
            {
                for (var i = labelChangesSeen; i < timeline.Count; i++)
                {
                    var c = timeline[i];
                    if (c.Key != SidecarSet.Label) continue;
                    var text = $"label    {c.Pod} {c.Key}: {c.Old ?? "(none)"} → {c.New ?? "(none)"}  ({c.Source})";
                    Event(c.New == SidecarSet.Master ? Paint(Green, text) : c.Old == SidecarSet.Master ? Paint(Yellow, text) : text, c.Time);
                }
                labelChangesSeen = timeline.Count;
            }
            if (endpoints is not null)
            {
                for (var i = endpointChangesSeen; i < endpoints.Count; i++)
                {
                    var text = $"service  master Service ready endpoints: [{string.Join(",", endpoints[i].Ready)}]";
                    Event(endpoints[i].Ready.Count == 1 ? text : Paint(Yellow, text), endpoints[i].Time);
                }
                endpointChangesSeen = endpoints.Count;
            }
            if (last is not null) Diff(last, s);
            last = s;
            if (table) { if (started) Draw(); }
            else if (Signature(s) != lastPrintedSignature && s.At - lastPrinted > TimeSpan.FromSeconds(1)) PrintTable(s);
        }
    }

    void Diff(Snapshot a, Snapshot b)
    {
        for (var i = 0; i < b.Pods.Length; i++)
        {
            var (x, y) = (a.Pods[i], b.Pods[i]);
            if (RoleText(x) != RoleText(y)) Event($"redis    {y.Name} ROLE: {RoleText(x)} → {RoleText(y)}", b.At);
            if (x.Ready != y.Ready && x.Ready != "?" && y.Ready != "?") Event($"ready    {y.Name} condition {SidecarSet.Condition}: {x.Ready ?? "(unset)"} → {y.Ready ?? "(unset)"}", b.At);
            if (x.Readyz != y.Readyz) Event($"sidecar  {y.Name} /readyz: {x.Readyz} → {y.Readyz}", b.At);
        }
        if (a.AgreedMaster != b.AgreedMaster || a.Epoch != b.Epoch)
            Event($"sentinel {SentinelText(b, addresses: false)}", b.At);
    }

    /// <summary>Starts drawing (table mode clears the screen once and hides the cursor).</summary>
    public void Start()
    {
        lock (gate)
        {
            started = true;
            if (table) Write("\x1b[?25l\x1b[H\x1b[2J");
        }
    }

    /// <summary>Final frame (table) or table (plain); shows the cursor again. Later output goes below it.</summary>
    public void Stop()
    {
        lock (gate)
        {
            if (stopped) return;
            if (table && started) { Draw(reserve: 3); Write("\x1b[?25h"); }
            else if (!table && last is not null && Signature(last) != lastPrintedSignature) PrintTable(last);
            stopped = true;
        }
    }

    /// <summary>A line after the view has stopped (or before it started).</summary>
    public void Line(string text) { lock (gate) Write(text + "\n"); }

    void PrintTable(Snapshot s)
    {
        lastPrintedSignature = Signature(s);
        lastPrinted = s.At;
        var sb = new StringBuilder();
        foreach (var l in TableLines(s, color: false)) sb.Append("    ").Append(l).Append('\n');
        Write(sb.ToString());
    }

    static string Signature(Snapshot s) =>
        string.Join("|", s.Pods.Select(p => $"{p.Role},{p.Link},{p.Replicas},{p.Label},{p.Ready},{p.Readyz}")) + "|" + SentinelText(s)
        + "|" + string.Join(",", s.ServiceEndpoints ?? []);

    /// <param name="reserve">Lines kept free below the frame (the final frame leaves room for the lines printed after it).</param>
    void Draw(int reserve = 1)
    {
        var (width, height) = Size();
        height -= reserve - 1;
        var top = new List<string>
        {
            $"{Bold}RedisSidecars demo{Reset}   3 Redis + 3 Sentinels + 3 redis-sidecars + Kubernetes API double   {Dim}{Stamp(DateTimeOffset.UtcNow)}{Reset}",
            $"{Cyan}▶ {phase}{Reset}",
            "",
        };
        if (last is not null) top.AddRange(TableLines(last, color: true));
        var bottom = new List<string>();
        if (results.Count > 0 || measured.Count > 0) bottom.Add("");
        bottom.AddRange(results);
        if (measured.Count > 0) bottom.AddRange(Scenario.Summary(measured).Select((l, i) => i < 2 ? Bold + l + Reset : l));
        if (hints is not null) { bottom.Add(""); bottom.AddRange(hints(last)); }
        if (footer is not null) { bottom.Add(""); bottom.Add(footer); }
        var room = Math.Max(2, height - 1 - top.Count - bottom.Count - 2);
        var lines = new List<string>(top) { "", $"{Bold}events{Reset} {Dim}(label and endpoint changes from the double's timelines; the rest polled every 250 ms){Reset}" };
        lines.AddRange(events.Skip(Math.Max(0, events.Count - Math.Min(room, 12))).Select(e => "  " + e.Text));
        lines.AddRange(bottom);
        var sb = new StringBuilder("\x1b[H");
        foreach (var l in lines.Take(Math.Max(1, height - 1))) sb.Append(Truncate(l, width - 1)).Append(Reset).Append("\x1b[K\n");
        sb.Append("\x1b[J");
        Write(sb.ToString());
    }

    static IEnumerable<string> TableLines(Snapshot s, bool color)
    {
        string C(string code, string text) => color ? code + text + Reset : text;
        yield return C(Bold, $"{"POD",-8} {"ADDRESS",-15} {"ROLE (redis)",-32} {"LABEL",-8} {"READY",-6} {"OFFSET",10}  SIDECAR /readyz");
        foreach (var p in s.Pods)
        {
            var role = RoleText(p);
            var roleCell = role.PadRight(32);
            roleCell = p.Role switch { "master" => C(Bold, roleCell), "replica" => roleCell, _ => C(Red, roleCell) };
            var label = (p.Label ?? "-").PadRight(8);
            label = p.Label == SidecarSet.Master ? C(Bold + Green, label) : p.Label is null or "?" ? C(Dim, label) : label;
            var ready = (p.Ready ?? "-").PadRight(6);
            ready = p.Ready == "True" ? C(Green, ready) : p.Ready == "False" ? C(Red, ready) : C(Dim, ready);
            var offset = (p.Offset?.ToString(CultureInfo.InvariantCulture) ?? "-").PadLeft(10);
            var readyz = p.Readyz.StartsWith("200", StringComparison.Ordinal) ? C(Green, p.Readyz) : p.Readyz == "down" ? C(Red, p.Readyz) : C(Yellow, p.Readyz);
            yield return $"{p.Name,-8} {p.Address,-15} {roleCell} {label} {ready} {offset}  {readyz}";
        }
        var agreed = s.AgreedMaster is not null;
        yield return "";
        yield return (agreed ? "" : color ? Yellow : "") + "Sentinels " + SentinelText(s) + (agreed || !color ? "" : Reset);
        var labelled = s.LabelledMaster;
        var who = !s.ApiUp ? "(API double not answering)" : labelled.Count == 0 ? "none" : string.Join(", ", labelled.Select(p => p.Name));
        var line = $"Pods labelled {SidecarSet.Label}={SidecarSet.Master}: {who}";
        yield return labelled.Count > 1 ? C(Bold + Red, line + "  ← MORE THAN ONE") : line;
        var service = s.ServiceEndpoints is null ? "(API double not answering)" : s.ServiceEndpoints.Count == 0 ? "none" : string.Join(", ", s.ServiceEndpoints);
        var serviceLine = $"Master Service ({SidecarSet.Label}={SidecarSet.Master}, Ready) endpoints: {service}";
        yield return s.ServiceEndpoints is { Count: 1 } ? serviceLine : C(Yellow, serviceLine);
    }

    static string RoleText(PodState p) => p.Role switch
    {
        "master" => $"master · {p.Replicas} replica{(p.Replicas == 1 ? "" : "s")}",
        "replica" => $"replica ← {p.Link}",
        _ => p.Role,
    };

    static string SentinelText(Snapshot s, bool addresses = true)
    {
        var where = addresses ? "(127.0.2.1-3:26379): " : "";
        var epoch = s.Epoch is { } e ? $" · config epoch {e}" : "";
        var inProgress = s.Sentinels.Any(x => x.FailoverInProgress) ? " · failover in progress" : "";
        if (s.AgreedMaster is { } m) return $"{where}master {m}, {s.Sentinels.Length}/{s.Sentinels.Length} agree{epoch}{inProgress}";
        return where + string.Join("  ", s.Sentinels.Select(x => $"{x.Address}→{x.Master ?? "no answer"}")) + epoch + inProgress;
    }

    static string Paint(string code, string text) => code + text + Reset;

    /// <summary>Cuts a line with ANSI escapes to a visible width.</summary>
    static string Truncate(string s, int width)
    {
        var sb = new StringBuilder();
        var visible = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\x1b')
            {
                var j = s.IndexOf('m', i);
                if (j < 0) break;
                sb.Append(s, i, j - i + 1);
                i = j;
                continue;
            }
            if (visible >= width) break;
            sb.Append(s[i]);
            visible++;
        }
        return sb.ToString();
    }

    static (int Width, int Height) Size()
    {
        try
        {
            var w = Console.WindowWidth;
            var h = Console.WindowHeight;
            return (w > 20 ? w : 120, h > 10 ? h : 40);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or PlatformNotSupportedException) { return (120, 40); }
    }

    void Write(string text)
    {
        if (!table) text = StripAnsi(text);
        try { Console.Out.Write(text); Console.Out.Flush(); }
        catch (IOException) { } // the terminal went away (tmux kill-session, closed ssh): keep stopping cleanly
    }

    static string StripAnsi(string s)
    {
        if (!s.Contains('\x1b', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\x1b') { var j = s.IndexOf('m', i); if (j < 0) break; i = j; continue; }
            sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
