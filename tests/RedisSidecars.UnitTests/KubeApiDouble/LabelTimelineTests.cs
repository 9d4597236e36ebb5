using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using RedisSidecars.KubeApiDouble;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>The timeline's arithmetic on a fake clock (exact durations).</summary>
public sealed class LabelTimelineTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2030-01-01T00:00:00Z", CultureInfo.InvariantCulture));

    [Fact]
    public void MaxConcurrent_TwoPodsOverlapping_ReturnsTwo()
    {
        var timeline = new LabelTimeline(_clock);
        timeline.Record("ns", "redis-0", "role", null, "master", "create");
        timeline.Record("ns", "redis-1", "role", "replica", "master", "patch");
        timeline.Record("ns", "redis-0", "role", "master", "replica", "patch");

        Assert.Equal(2, timeline.MaxConcurrent("role", "master"));
    }

    [Fact]
    public void MaxConcurrent_SequentialHandover_ReturnsOne()
    {
        var timeline = new LabelTimeline(_clock);
        timeline.Record("ns", "redis-0", "role", null, "master", "create");
        timeline.Record("ns", "redis-1", "role", null, "replica", "create");
        timeline.Record("ns", "redis-0", "role", "master", null, "patch");
        timeline.Record("ns", "redis-1", "role", "replica", "master", "patch");
        timeline.Record("ns", "redis-1", "other", null, "master", "patch");

        Assert.Equal(1, timeline.MaxConcurrent("role", "master"));
        Assert.Equal(["ns/redis-1"], timeline.CarriersNow("role", "master"));
    }

    [Fact]
    public void IntervalsWithout_HandoverWithGapThenDrop_ReturnsClosedGapAndOpenGap()
    {
        var timeline = new LabelTimeline(_clock);
        _clock.Advance(TimeSpan.FromSeconds(5)); // before any master: not a gap
        timeline.Record("ns", "redis-0", "role", null, "master", "create");
        _clock.Advance(TimeSpan.FromSeconds(1));
        timeline.Record("ns", "redis-0", "role", "master", "replica", "patch");
        _clock.Advance(TimeSpan.FromMilliseconds(750));
        timeline.Record("ns", "redis-1", "role", "replica", "master", "patch");
        _clock.Advance(TimeSpan.FromSeconds(2));
        timeline.Record("ns", "redis-1", "role", "master", null, "human");

        var gaps = timeline.IntervalsWithout("role", "master");

        Assert.Equal(2, gaps.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(750), gaps[0].Duration);
        Assert.Equal(TimeSpan.FromSeconds(6), gaps[0].Start);
        Assert.Null(gaps[1].End);
        Assert.Equal(TimeSpan.FromSeconds(8.75), gaps[1].Start);
    }

    [Fact]
    public async Task WaitForAsync_ChangeRecordedLater_CompletesWithIt()
    {
        var timeline = new LabelTimeline();
        var wait = timeline.WaitForAsync(c => c.Pod == "redis-2" && c.NewValue == "master", TimeSpan.FromSeconds(30));
        timeline.Record("ns", "redis-1", "role", null, "master", "patch");
        Assert.False(wait.IsCompleted);
        timeline.Record("ns", "redis-2", "role", null, "master", "patch");

        var change = await wait;

        Assert.Equal("redis-2", change.Pod);
    }
}

/// <summary>The timeline as the double fills it from real client patches and human edits.</summary>
public sealed class KubeApiServerTimelineTests : KubeApiTestBase
{
    private Task<V1Pod> LabelAsync(string pod, string? value) => Client.CoreV1.PatchNamespacedPodAsync(
        new V1Patch(
            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["role"] = value } } }.ToJsonString(),
            V1Patch.PatchType.MergePatch),
        pod, Ns);

    [Fact]
    public async Task Timeline_NewMasterLabelledBeforeOldDropped_MaxConcurrentIsTwo()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=master"));
        Api.AddPod(Ns, "redis-1", Labels("role=replica"));

        await LabelAsync("redis-1", "master");
        await LabelAsync("redis-0", "replica");

        Assert.Equal(2, Api.Timeline.MaxConcurrent("role", "master"));
        Assert.Empty(Api.Timeline.IntervalsWithout("role", "master"));
    }

    [Fact]
    public async Task Timeline_OldDroppedBeforeNewLabelled_MaxConcurrentIsOneWithOneClosedGap()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=master"));
        Api.AddPod(Ns, "redis-1", Labels("role=replica"));

        await LabelAsync("redis-0", null);
        await LabelAsync("redis-1", "master");

        Assert.Equal(1, Api.Timeline.MaxConcurrent("role", "master"));
        var gap = Assert.Single(Api.Timeline.IntervalsWithout("role", "master"));
        Assert.NotNull(gap.End);
        Assert.True(gap.Duration > TimeSpan.Zero);
        var drop = Api.Timeline.Changes.Single(c => c.Pod == "redis-0" && c.Source == "patch");
        Assert.Equal(("master", (string?)null), (drop.OldValue, drop.NewValue));
    }

    [Fact]
    public async Task Timeline_HumanEditAndDelete_AreRecordedWithTheirSource()
    {
        Api.AddPod(Ns, "redis-0", Labels("role=replica"));

        Api.SetLabel(Ns, "redis-0", "role", "master");
        await LabelAsync("redis-0", "replica");
        Api.RemovePod(Ns, "redis-0");

        Assert.Equal(["create", "human", "patch", "delete"], Api.Timeline.Changes.Where(c => c.Key == "role").Select(c => c.Source));
        Assert.Equal(1, Api.Timeline.MaxConcurrent("role", "master"));
        Assert.Empty(Api.Timeline.CarriersNow("role", "replica"));
    }

    [Fact]
    public async Task WritesPerPod_PatchesToTwoPods_CountsEachPodsWrites()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-1");

        await LabelAsync("redis-0", "master");
        await LabelAsync("redis-0", "master");
        await Client.CoreV1.PatchNamespacedPodStatusAsync(
            new V1Patch("""{"status":{"conditions":[{"type":"X","status":"True"}]}}""", V1Patch.PatchType.StrategicMergePatch), "redis-0", Ns);
        await LabelAsync("redis-1", "replica");
        await Client.CoreV1.ReadNamespacedPodAsync("redis-1", Ns);

        var writes = Api.WritesPerPod();
        Assert.Equal(3, writes[$"{Ns}/redis-0"]);
        Assert.Equal(1, writes[$"{Ns}/redis-1"]);
        Assert.Equal(3, Api.WriteCount(Ns, "redis-0"));
    }
}
