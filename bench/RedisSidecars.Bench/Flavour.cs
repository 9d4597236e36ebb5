using System.Text.RegularExpressions;
using RedisSidecars.Testing;

namespace RedisSidecars.Bench;

/// <summary>
/// Which redis-sidecar a section runs: this branch's published binary, or the pre-v2 one given by <c>--old-sidecar</c>.
/// The pre-v2 sidecar polls the API with get on pods (which the manifests' Role no longer grants: it runs without Role
/// enforcement) and serves /handover on HTTP_PORT; this branch's runs under the manifests' Role with /handover on HANDOVER_PORT.
/// </summary>
public sealed partial record Flavour(string Column, string Binary, bool Old)
{
    static readonly SemaphoreSlim BinaryGate = new(1, 1);

    public static Flavour Current() => new(Report.Main, Tools.RedisSidecar, Old: false);

    public static Flavour PreV2(string path) =>
        File.Exists(path) ? new("pre-v2 (585329b)", Path.GetFullPath(path), Old: true)
        : throw new ArgumentException($"--old-sidecar {path}: no such file (publish the pre-v2 sidecar first, see README)");

    public double BinaryMb => new FileInfo(Binary).Length / 1048576.0;

    /// <summary>A <see cref="SidecarSet"/> whose sidecars are this flavour's binary; labels settled to the Sentinels'.</summary>
    public async Task<SidecarSet> StartSetAsync(TimeSpan settle, IDictionary<string, string>? sidecarEnv = null)
    {
        var s = await SidecarSet.StartAsync(sidecarEnv: sidecarEnv, startSidecars: false);
        try
        {
            if (Old)
            {
                s.Api.StopEnforcingRole(SidecarSet.ServiceAccount);
                for (var i = 0; i < s.HandoverPorts.Length; i++) s.HandoverPorts[i] = s.HttpPorts[i];
            }
            for (var i = 0; i < s.Set.Redis.Count; i++) await StartSidecarAsync(s, i);
            await s.WaitForLabelsToMatchSentinelsAsync(settle, $"initial labels ({Column})");
            return s;
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts sidecar <paramref name="i"/> from this flavour's binary (through <c>REDIS_SIDECAR_BIN</c>, which <see cref="Tools"/> reads).</summary>
    public async Task StartSidecarAsync(SidecarSet s, int i)
    {
        await BinaryGate.WaitAsync();
        var before = Environment.GetEnvironmentVariable("REDIS_SIDECAR_BIN");
        try
        {
            Environment.SetEnvironmentVariable("REDIS_SIDECAR_BIN", Binary);
            s.StartSidecar(i);
        }
        finally
        {
            Environment.SetEnvironmentVariable("REDIS_SIDECAR_BIN", before);
            BinaryGate.Release();
        }
    }

    /// <summary>The promotion time this branch's handover answer reports (<c>promoted N ms after SENTINEL FAILOVER</c>), or null.</summary>
    public static double? ReportedPromotionMs(string answer) =>
        PromotedAfter().Match(answer) is { Success: true } m ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"promoted (\d+) ms after SENTINEL FAILOVER")]
    private static partial Regex PromotedAfter();
}
