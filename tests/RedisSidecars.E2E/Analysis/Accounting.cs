namespace RedisSidecars.E2E.Analysis;

/// <summary>The longest time between two consecutive acknowledged writes, and between which.</summary>
public sealed record WriteGap(TimeSpan Length, long AfterSeq, long BeforeSeq);

/// <summary>Lost writes and write gaps: acknowledged means SET answered OK and WAIT 1 counted a replica.</summary>
public static class Accounting
{
    /// <summary>Acknowledged sequence numbers whose key is not among <paramref name="presentKeys"/> (read back from the master), in order.</summary>
    public static IReadOnlyList<long> Lost(WriterRun run, IReadOnlySet<string> presentKeys) =>
        run.AckedAt.Keys.Where(seq => !presentKeys.Contains(run.Key(seq))).Order().ToArray();

    /// <summary>The longest gap between consecutive acknowledgements (by time); null with fewer than two.</summary>
    public static WriteGap? LongestGap(WriterRun run)
    {
        var acks = run.AckedAt.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key).ToArray();
        WriteGap? longest = null;
        for (var i = 1; i < acks.Length; i++)
        {
            var gap = TimeSpan.FromMilliseconds(acks[i].Value - acks[i - 1].Value);
            if (longest is null || gap > longest.Length) longest = new WriteGap(gap, acks[i - 1].Key, acks[i].Key);
        }
        return longest;
    }

    /// <summary>"1-3, 7, 9-12": sequence numbers as ranges, at most <paramref name="max"/> ranges.</summary>
    public static string Ranges(IReadOnlyList<long> seqs, int max = 10)
    {
        var ranges = new List<string>();
        for (var i = 0; i < seqs.Count;)
        {
            var j = i;
            while (j + 1 < seqs.Count && seqs[j + 1] == seqs[j] + 1) j++;
            ranges.Add(i == j ? $"{seqs[i]}" : $"{seqs[i]}-{seqs[j]}");
            i = j + 1;
        }
        return ranges.Count <= max ? string.Join(", ", ranges) : string.Join(", ", ranges.Take(max)) + $" … ({ranges.Count - max} more ranges)";
    }
}
