using RedisSidecars.E2E.Analysis;

namespace RedisSidecars.E2E.Tests.Analysis;

public class TargetsTests
{
    [Theory]
    [InlineData(1, "redis-1", "redis-2", true)]
    [InlineData(2, "redis-1", "redis-2", false)]
    [InlineData(0, "redis-0", "redis-2", false)]
    public void RollingRestart_ExactlyOneHandover(int handovers, string master, string first, bool met) =>
        Assert.Equal(met, Targets.RollingRestartHandovers(handovers, master, first, 3).Met);

    [Fact]
    public void RollingRestart_MasterRestartedFirst_DoesNotApply()
    {
        var t = Targets.RollingRestartHandovers(2, "redis-2", "redis-2", 3);
        Assert.Null(t.Met);
        Assert.Contains("restarted first", t.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void RollingRestart_NotThreePods_DoesNotApply() =>
        Assert.Null(Targets.RollingRestartHandovers(1, "redis-1", "redis-4", 5).Met);

    [Theory]
    [InlineData(1500, true)]
    [InlineData(1501, false)]
    [InlineData(0, true)]
    public void EndpointAfterPromotion_WithinOneAndAHalfSeconds(int ms, bool met) =>
        Assert.Equal(met, Targets.EndpointAfterPromotion("redis-1", TimeSpan.FromMilliseconds(ms)).Met);

    [Fact]
    public void EndpointAfterPromotion_NeverReady_Fails() =>
        Assert.False(Targets.EndpointAfterPromotion("redis-1", null).Met);

    [Theory]
    [InlineData(2000, true)]
    [InlineData(2001, false)]
    public void WriteGap_AtMostTwoSeconds(int ms, bool met) =>
        Assert.Equal(met, Targets.WriteGap(new WriteGap(TimeSpan.FromMilliseconds(ms), 1, 2)).Met);

    [Fact]
    public void WriteGap_NoGapMeasured_Fails() => Assert.False(Targets.WriteGap(null).Met);
}
