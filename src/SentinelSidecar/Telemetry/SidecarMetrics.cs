using System.Globalization;
using System.Text;
using RedisSidecars.Core.Roles;

namespace RedisSidecars.Sidecar.Telemetry;

public sealed class Counter
{
    long value;
    public void Increment() => Interlocked.Increment(ref value);
    public long Value => Interlocked.Read(ref value);
}

/// <summary>The sidecar's Prometheus metrics, rendered in the text exposition format.</summary>
public sealed class SidecarMetrics
{
    static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    readonly long[] bucketCounts = new long[Buckets.Length];
    readonly object histogramGate = new();
    double latencySum;
    long latencyCount;

    public Counter LabelPatches { get; } = new();
    public Counter FailoversObserved { get; } = new();
    public Counter ApiErrors { get; } = new();
    readonly Counter[] handovers = Enum.GetValues<HandoverOutcome>().Select(_ => new Counter()).ToArray();

    /// <summary>Handovers that ended with <paramref name="outcome"/>.</summary>
    public Counter Handovers(HandoverOutcome outcome) => handovers[(int)outcome];
    /// <summary>0 unknown, 1 replica, 2 master (the label this pod carries).</summary>
    public int Role { get; set; }
    public bool Ready { get; set; }
    public int SentinelsReachable { get; set; }
    public int SentinelsConfigured { get; set; }
    public bool SentinelMajorityLost { get; set; }
    public bool HandoverWritesPaused { get; set; }
    public bool Fenced { get; set; }
    public Counter Fences { get; } = new();

    public void ObserveEventToLabel(TimeSpan elapsed)
    {
        lock (histogramGate)
        {
            for (var i = 0; i < Buckets.Length; i++) if (elapsed.TotalSeconds <= Buckets[i]) bucketCounts[i]++;
            latencySum += elapsed.TotalSeconds;
            latencyCount++;
        }
    }

    public string Render()
    {
        var sb = new StringBuilder();
        Gauge(sb, "redis_sidecar_role", "Role label this pod carries: 0 unknown, 1 replica, 2 master.", Role);
        Gauge(sb, "redis_sidecar_ready", "1 when this pod reports ready.", Ready ? 1 : 0);
        Gauge(sb, "redis_sidecar_sentinels_reachable", "Sentinels that answered the last poll.", SentinelsReachable);
        Gauge(sb, "redis_sidecar_sentinels_configured", "Sentinels configured.", SentinelsConfigured);
        CounterLine(sb, "redis_sidecar_label_patches_total", "Role label patches sent.", LabelPatches.Value);
        CounterLine(sb, "redis_sidecar_failovers_observed_total", "Failovers observed (+switch-master accepted or master changed).", FailoversObserved.Value);
        CounterLine(sb, "redis_sidecar_api_errors_total", "Kubernetes API errors (including retried ones).", ApiErrors.Value);
        Gauge(sb, "redis_sidecar_sentinel_majority_lost", "1 when no Sentinel majority has been reachable for longer than SENTINEL_LOSS_GRACE_MS.", SentinelMajorityLost ? 1 : 0);
        Gauge(sb, "redis_sidecar_fenced", "1 while this (isolated) master is fenced: it refuses writes unless every replica is in sync.", Fenced ? 1 : 0);
        CounterLine(sb, "redis_sidecar_fences_total", "Times this sidecar fenced its master.", Fences.Value);
        Gauge(sb, "redis_sidecar_handover_writes_paused", "1 while a planned handover keeps writes paused.", HandoverWritesPaused ? 1 : 0);
        sb.Append("# HELP redis_sidecar_handovers_total Planned handovers, by how they ended.\n# TYPE redis_sidecar_handovers_total counter\n");
        foreach (var outcome in Enum.GetValues<HandoverOutcome>())
            sb.Append("redis_sidecar_handovers_total{outcome=\"").Append(outcome).Append("\"} ").Append(Handovers(outcome).Value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("# HELP redis_sidecar_event_to_label_seconds Time from a Sentinel failover event to the role label patched.\n");
        sb.Append("# TYPE redis_sidecar_event_to_label_seconds histogram\n");
        lock (histogramGate)
        {
            for (var i = 0; i < Buckets.Length; i++)
                sb.Append("redis_sidecar_event_to_label_seconds_bucket{le=\"").Append(Buckets[i].ToString(CultureInfo.InvariantCulture)).Append("\"} ")
                  .Append(bucketCounts[i].ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("redis_sidecar_event_to_label_seconds_bucket{le=\"+Inf\"} ").Append(latencyCount.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("redis_sidecar_event_to_label_seconds_sum ").Append(latencySum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("redis_sidecar_event_to_label_seconds_count ").Append(latencyCount.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        Gauge(sb, "process_resident_memory_bytes", "Resident set size of this process.", Environment.WorkingSet);
        Gauge(sb, "dotnet_gc_heap_size_bytes", "Size of the managed heap after the last garbage collection.", GC.GetGCMemoryInfo().HeapSizeBytes);
        sb.Append("# HELP process_cpu_seconds_total CPU time this process used.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ")
          .Append(Environment.CpuUsage.TotalTime.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)).Append('\n');
        RenderKube(sb);
        return sb.ToString();
    }

    static void Gauge(StringBuilder sb, string name, string help, long value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" gauge\n")
          .Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    static void CounterLine(StringBuilder sb, string name, string help, long value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" counter\n")
          .Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    /// <summary>Watch streams reopened (ended by the server, failed, or expired with 410).</summary>
    public Counter KubeWatchRestarts { get; } = new();
    /// <summary>Full lists after the first one (410 Gone, a failure before the first watch, a 403, the resync timer).</summary>
    public Counter KubeRelists { get; } = new();

    void RenderKube(StringBuilder sb)
    {
        CounterLine(sb, "redis_sidecar_kube_watch_restarts_total", "Kubernetes watch streams reopened.", KubeWatchRestarts.Value);
        CounterLine(sb, "redis_sidecar_kube_relists_total", "Kubernetes full relists after the first list.", KubeRelists.Value);
    }
}
