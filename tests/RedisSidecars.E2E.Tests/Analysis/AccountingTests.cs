using RedisSidecars.E2E.Analysis;

namespace RedisSidecars.E2E.Tests.Analysis;

public class AccountingTests
{
    static WriterRun Run(params (long Seq, long Ms)[] acks) =>
        new("p", acks.ToDictionary(a => a.Seq, a => a.Ms), [], 0, true);

    [Fact]
    public void Lost_AckedKeysMissingFromTheMaster_InOrder()
    {
        var run = Run((1, 0), (2, 10), (3, 20), (5, 40), (6, 50));
        var present = new HashSet<string> { "p:1", "p:3", "p:4", "p:6", "other:2" };

        Assert.Equal([2L, 5L], Accounting.Lost(run, present));
    }

    [Fact]
    public void Lost_NothingMissing_IsEmpty() =>
        Assert.Empty(Accounting.Lost(Run((1, 0), (2, 10)), new HashSet<string> { "p:1", "p:2", "p:3" }));

    [Fact]
    public void Lost_UnackedKeysAbsent_AreNotLost()
    {
        // Attempt 2 failed (not in the acks): its absence is allowed.
        var run = new WriterRun("p", new Dictionary<long, long> { [1] = 0, [3] = 20 }, [(10, 2, "OK 0")], 0, true);
        Assert.Empty(Accounting.Lost(run, new HashSet<string> { "p:1", "p:3" }));
    }

    [Fact]
    public void LongestGap_ByTime_NamesTheWritesAroundIt()
    {
        var gap = Accounting.LongestGap(Run((1, 0), (2, 100), (3, 1600), (4, 1700), (5, 2000)));

        Assert.NotNull(gap);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), gap.Length);
        Assert.Equal((2L, 3L), (gap.AfterSeq, gap.BeforeSeq));
    }

    [Fact]
    public void LongestGap_FewerThanTwoAcks_IsNull()
    {
        Assert.Null(Accounting.LongestGap(Run()));
        Assert.Null(Accounting.LongestGap(Run((1, 5))));
    }

    [Fact]
    public void Ranges_CollapsesRunsAndCapsTheList()
    {
        Assert.Equal("1-3, 7, 9-10", Accounting.Ranges([1, 2, 3, 7, 9, 10]));
        Assert.Equal("", Accounting.Ranges([]));
        Assert.Equal("1, 3 … (2 more ranges)", Accounting.Ranges([1, 3, 5, 7], max: 2));
    }
}
