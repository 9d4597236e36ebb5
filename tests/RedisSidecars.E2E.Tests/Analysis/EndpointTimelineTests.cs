using RedisSidecars.E2E.Analysis;

namespace RedisSidecars.E2E.Tests.Analysis;

public class EndpointTimelineTests
{
    static EndpointSample S(double seconds, params string[] ready) => new(TimeSpan.FromSeconds(seconds), ready);

    [Fact]
    public void Analyze_LongestStretchWithoutReady_FromFirstEmptyToNextReady()
    {
        var samples = new[] { S(0, "a"), S(0.2), S(0.4), S(0.6, "b"), S(0.8), S(1.0, "b"), S(1.2, "b") };

        var s = EndpointTimeline.Analyze(samples, TimeSpan.Zero, TimeSpan.FromSeconds(2));

        Assert.Equal(7, s.Samples);
        Assert.Equal(TimeSpan.FromSeconds(0.4), s.LongestWithoutReady);
        Assert.Equal(TimeSpan.FromSeconds(0.2), s.LongestStartedAt);
        Assert.Equal(1, s.MostReadyAtOnce);
    }

    [Fact]
    public void Analyze_StillEmptyAtTheEnd_CountsToTheLastSample()
    {
        var s = EndpointTimeline.Analyze([S(0, "a"), S(0.2), S(0.4), S(1.4)], TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(1.2), s.LongestWithoutReady);
    }

    [Fact]
    public void Analyze_TwoReadyAtOnce_IsReported()
    {
        var s = EndpointTimeline.Analyze([S(0, "a"), S(0.2, "a", "b"), S(0.4, "b")], TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Assert.Equal(2, s.MostReadyAtOnce);
        Assert.Equal(["a", "b"], s.MostReadyPods);
        Assert.Equal(TimeSpan.Zero, s.LongestWithoutReady);
    }

    [Fact]
    public void Analyze_OnlySamplesInTheWindow()
    {
        var s = EndpointTimeline.Analyze([S(0), S(1), S(2, "a"), S(3, "a")], TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3));
        Assert.Equal(2, s.Samples);
        Assert.Equal(TimeSpan.Zero, s.LongestWithoutReady);
    }

    [Fact]
    public void Analyze_NoSamples_IsEmpty()
    {
        var s = EndpointTimeline.Analyze([], TimeSpan.Zero, TimeSpan.FromSeconds(1));
        Assert.Equal((0, 0), (s.Samples, s.MostReadyAtOnce));
    }

    [Fact]
    public void ReadyAfter_FirstSampleWithTheNewMasterAfterThePromotion()
    {
        var samples = new[] { S(0, "a"), S(0.2), S(0.4), S(0.6, "a"), S(0.8, "b") };
        Assert.Equal(TimeSpan.FromSeconds(0.5), EndpointTimeline.ReadyAfter(samples, TimeSpan.FromSeconds(0.3), "b"));
    }

    [Fact]
    public void ReadyAfter_AlreadyReadyBeforeThePromotion_IsZero() =>
        Assert.Equal(TimeSpan.Zero, EndpointTimeline.ReadyAfter([S(0, "b"), S(0.2, "b")], TimeSpan.FromSeconds(0.1), "b"));

    [Fact]
    public void ReadyAfter_NeverReady_IsNull() =>
        Assert.Null(EndpointTimeline.ReadyAfter([S(0, "a"), S(0.2, "a")], TimeSpan.FromSeconds(0.1), "b"));
}
