using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>List + watch as a real API server's watch cache serves them, read by the real client's HTTP pipeline.</summary>
public sealed class KubeApiServerWatchTests : KubeApiTestBase
{
    private Task<V1Pod> LabelAsync(string pod, string key, string? value) => Client.CoreV1.PatchNamespacedPodAsync(
        Merge(new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [key] = value } } }.ToJsonString()), pod, Ns);

    [Fact]
    public async Task Watch_WithoutResourceVersion_StartsWithSyntheticAddedForEveryCurrentPod()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-1");
        Api.AddPod("elsewhere", "redis-9");

        await using var watch = WatchPods();
        var first = await watch.NextAsync();
        var second = await watch.NextAsync();

        Assert.Equal((WatchEventKind.Added, "redis-0"), (first.Kind, first.Object!.Metadata.Name));
        Assert.Equal((WatchEventKind.Added, "redis-1"), (second.Kind, second.Object!.Metadata.Name));
        Assert.Equal(second.Object.Metadata.ResourceVersion, second.ResourceVersion);
    }

    [Fact]
    public async Task Watch_ResourceVersionZero_AlsoStartsWithSyntheticAdded()
    {
        Api.AddPod(Ns, "redis-0");

        await using var watch = WatchPods("resourceVersion=0");
        var first = await watch.NextAsync();

        Assert.Equal((WatchEventKind.Added, "redis-0"), (first.Kind, first.Object!.Metadata.Name));
    }

    [Fact]
    public async Task Watch_WatchOne_IsAWatchToo()
    {
        Api.AddPod(Ns, "redis-0");
        using var http = RawClient();

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods?watch=1&timeoutSeconds=1");
        var line = (await response.Content.ReadAsStringAsync()).Split('\n')[0];

        Assert.Equal("ADDED", (string?)JsonNode.Parse(line)!["type"]);
    }

    [Fact]
    public async Task Watch_FromListResourceVersion_SendsEveryLaterChangeInOrderAndNothingBefore()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-1");
        var list = await Client.CoreV1.ListNamespacedPodAsync(Ns);
        Assert.Equal(Api.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), list.Metadata.ResourceVersion);
        await LabelAsync("redis-1", "role", "master");
        Api.SetLabel(Ns, "redis-0", "role", "replica");

        await using var watch = WatchPods($"resourceVersion={list.Metadata.ResourceVersion}");
        var first = await watch.NextAsync();
        var second = await watch.NextAsync();
        await LabelAsync("redis-1", "role", null);
        var third = await watch.NextAsync();

        Assert.Equal((WatchEventKind.Modified, "redis-1", "master"), (first.Kind, first.Object!.Metadata.Name, first.Object.Metadata.Labels["role"]));
        Assert.Equal((WatchEventKind.Modified, "redis-0", "replica"), (second.Kind, second.Object!.Metadata.Name, second.Object.Metadata.Labels["role"]));
        Assert.Equal((WatchEventKind.Modified, "redis-1"), (third.Kind, third.Object!.Metadata.Name));
        Assert.False(third.Object.Metadata.Labels.ContainsKey("role"));
        var versions = new[] { list.Metadata.ResourceVersion, first.ResourceVersion, second.ResourceVersion, third.ResourceVersion }.Select(v => long.Parse(v!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(versions.SequenceEqual(versions.Order()) && versions.Distinct().Count() == 4, string.Join(" < ", versions));
    }

    [Fact]
    public async Task Watch_RawHttp_AnswersChunkedJsonOneEventObjectPerLine()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-1");
        using var http = RawClient();

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods?watch=true&timeoutSeconds=1", HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.TransferEncodingChunked, "Transfer-Encoding: chunked");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        foreach (var line in lines)
        {
            var e = JsonNode.Parse(line)!.AsObject();
            Assert.Equal(["type", "object"], e.Select(kv => kv.Key));
            Assert.Equal("ADDED", (string?)e["type"]);
            Assert.Equal(("Pod", "v1"), ((string?)e["object"]!["kind"], (string?)e["object"]!["apiVersion"]));
        }
    }

    [Fact]
    public async Task Watch_LabelSelector_PodStartingToMatchIsAddedAndPodLeavingIsDeletedWithItsOldContent()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-1");
        var from = Api.ResourceVersion;

        await using var watch = WatchPods($"labelSelector=role%3Dmaster&resourceVersion={from}");
        await LabelAsync("redis-0", "role", "master");
        var added = await watch.NextAsync();
        await LabelAsync("redis-0", "other", "x");
        var modified = await watch.NextAsync();
        var dropped = await LabelAsync("redis-0", "role", "replica");
        var deleted = await watch.NextAsync();
        await LabelAsync("redis-1", "role", "master");
        var next = await watch.NextAsync();

        Assert.Equal((WatchEventKind.Added, "redis-0"), (added.Kind, added.Object!.Metadata.Name));
        Assert.Equal((WatchEventKind.Modified, "x"), (modified.Kind, modified.Object!.Metadata.Labels["other"]));
        Assert.Equal((WatchEventKind.Deleted, "redis-0"), (deleted.Kind, deleted.Object!.Metadata.Name));
        Assert.Equal("master", deleted.Object.Metadata.Labels["role"]); // the content before it stopped matching
        Assert.Equal(dropped.Metadata.ResourceVersion, deleted.ResourceVersion); // with the change's resourceVersion
        Assert.Equal((WatchEventKind.Added, "redis-1"), (next.Kind, next.Object!.Metadata.Name));
    }

    [Fact]
    public async Task Watch_SetBasedSelectorAndFieldSelector_SeesOnlyMatchingPods()
    {
        Api.AddPod(Ns, "redis-0");
        Api.AddPod(Ns, "redis-1");
        Api.AddPod(Ns, "redis-2");

        await using var byLabel = WatchPods($"labelSelector={Uri.EscapeDataString("statefulset.kubernetes.io/pod-name in (redis-0,redis-2)")}");
        await using var byName = WatchPods("fieldSelector=metadata.name%3Dredis-1");
        await using var notIn = WatchPods($"labelSelector={Uri.EscapeDataString("statefulset.kubernetes.io/pod-name notin (redis-0),!role")}");

        Assert.Equal(["redis-0", "redis-2"], [(await byLabel.NextAsync()).Object!.Metadata.Name, (await byLabel.NextAsync()).Object!.Metadata.Name]);
        Assert.Equal("redis-1", (await byName.NextAsync()).Object!.Metadata.Name);
        Assert.Equal(["redis-1", "redis-2"], [(await notIn.NextAsync()).Object!.Metadata.Name, (await notIn.NextAsync()).Object!.Metadata.Name]);
        Api.SetLabel(Ns, "redis-0", "x", "y");
        Api.SetLabel(Ns, "redis-1", "x", "y");
        Assert.Equal("redis-0", (await byLabel.NextAsync()).Object!.Metadata.Name);
        Assert.Equal("redis-1", (await byName.NextAsync()).Object!.Metadata.Name);
        Assert.Empty(byLabel.Received());
    }

    [Fact]
    public async Task Watch_PodRemoved_EmitsDeletedCarryingTheDeletionsResourceVersion()
    {
        Api.AddPod(Ns, "redis-0");
        var before = Api.ResourceVersion;

        await using var watch = WatchPods($"resourceVersion={before}");
        Api.RemovePod(Ns, "redis-0");
        var deleted = await watch.NextAsync();

        Assert.Equal((WatchEventKind.Deleted, "redis-0"), (deleted.Kind, deleted.Object!.Metadata.Name));
        Assert.Equal(before + 1, long.Parse(deleted.ResourceVersion!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Watch_ResourceVersionOlderThanTheHistory_GetsOne410ExpiredErrorAndTheStreamEnds()
    {
        Api.AddPod(Ns, "redis-0");
        var old = Api.ResourceVersion;
        Api.SetLabel(Ns, "redis-0", "role", "master");
        Api.CompactHistory();

        await using var watch = WatchPods($"resourceVersion={old}");
        var error = await watch.NextAsync();
        var end = await watch.EndAsync();

        Assert.Equal(WatchEventKind.Error, error.Kind);
        Assert.Equal((410, "Expired", "Failure"), (error.Status!.Code, error.Status.Reason, error.Status.Status));
        Assert.StartsWith($"too old resource version: {old} (", error.Status.Message, StringComparison.Ordinal);
        Assert.Null(end);
        Assert.Equal("watch 410", Api.Requests.Last().Fault);
    }

    [Fact]
    public async Task Watch_NothingToSendYet_AnswersItsHeadersAtOnce()
    {
        // At rest a watch reopened from the current resourceVersion has no event to send for minutes (the first bookmark
        // comes after a minute): the real server answers 200 at once all the same, and a client bounds the wait for headers.
        Api.AddPod(Ns, "redis-0");
        using var http = RawClient();
        http.Timeout = TimeSpan.FromSeconds(3);

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods?watch=true&allowWatchBookmarks=true&resourceVersion={Api.ResourceVersion}&timeoutSeconds=30",
            HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Watch_CurrentResourceVersionAfterCompaction_IsStillValid()
    {
        Api.AddPod(Ns, "redis-0");
        Api.CompactHistory();

        await using var watch = WatchPods($"resourceVersion={Api.ResourceVersion}");
        Api.SetLabel(Ns, "redis-0", "role", "master");
        var e = await watch.NextAsync();

        Assert.Equal(WatchEventKind.Modified, e.Kind);
    }

    [Fact]
    public async Task Watch_InvalidResourceVersion_Answers400BeforeStreaming()
    {
        using var http = RawClient();

        using var response = await http.GetAsync($"/api/v1/namespaces/{Ns}/pods?watch=true&resourceVersion=abc");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Watch_ServerSideFailure_AnswersTheStatusBeforeAnyEvent()
    {
        Api.FailNext(1, 503, verb: "watch");

        await using var watch = WatchPods();
        var failure = await watch.EndAsync();

        var http = Assert.IsType<k8s.Autorest.HttpOperationException>(failure);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, http.Response.StatusCode);
    }

    [Fact]
    public async Task Watch_TimeoutSeconds_ServerEndsTheStreamCleanlyWithAFinalBookmark()
    {
        Api.AddPod(Ns, "redis-0");
        var started = Stopwatch.StartNew();

        await using var watch = WatchPods($"resourceVersion={Api.ResourceVersion}&timeoutSeconds=1&allowWatchBookmarks=true");
        var bookmark = await watch.NextAsync();
        var end = await watch.EndAsync();

        Assert.Null(end);
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(900), $"ended after {started.Elapsed}");
        Assert.Equal(WatchEventKind.Bookmark, bookmark.Kind);
        Assert.Equal(Api.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), bookmark.ResourceVersion);
    }

    [Fact]
    public async Task Watch_OpenedWhileWritesHappen_DeliversEveryChangeOnceInOrder()
    {
        Api.AddPod(Ns, "redis-0");
        var from = Api.ResourceVersion;
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 50; i++)
            {
                Api.SetLabel(Ns, "redis-0", "n", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        });

        await using var watch = WatchPods($"resourceVersion={from}");
        await writer;
        List<string> seen = [];
        while (seen.Count < 50)
        {
            seen.Add((await watch.NextAsync()).Object!.Metadata.Labels["n"]);
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);
    }

    [Fact]
    public async Task Watch_StatefulSetsByName_SeesItsListedStateThenRolloutRestart()
    {
        Api.AddStatefulSet(Ns, "redis", 2);
        Api.AddStatefulSet(Ns, "sentinel", 1);
        var list = await Client.AppsV1.ListNamespacedStatefulSetAsync(Ns, fieldSelector: "metadata.name=redis");
        var listed = Assert.Single(list.Items);

        await using var watch = WatchStatefulSets($"fieldSelector=metadata.name%3Dredis&resourceVersion={list.Metadata.ResourceVersion}");
        var revision = Api.RolloutRestart(Ns, "redis");
        Api.RolloutRestart(Ns, "sentinel");
        var e = await watch.NextChangeAsync();

        Assert.Equal(Api.GetUpdateRevision(Ns, "redis"), revision);
        Assert.NotEqual(listed.Status.UpdateRevision, revision);
        Assert.Equal((WatchEventKind.Modified, "redis", revision), (e.Kind, e.Object!.Metadata.Name, e.Object.Status.UpdateRevision));
        Assert.Equal(listed.Status.UpdateRevision, e.Object.Status.CurrentRevision);
        Assert.Empty(watch.Received());
    }
}

/// <summary>Bookmarks, expiry and history windows on short settings.</summary>
public sealed class KubeApiServerWatchTimingTests : KubeApiTestBase
{
    protected override KubeApiOptions? Options => new()
    {
        BookmarkInterval = TimeSpan.FromMilliseconds(100),
        WatchExpiry = TimeSpan.FromMilliseconds(700),
        WatchHistory = TimeSpan.FromMilliseconds(300),
    };

    [Fact]
    public async Task Watch_AllowWatchBookmarks_GetsPeriodicBookmarksWithTheCurrentResourceVersion()
    {
        Api.AddPod(Ns, "redis-0");

        await using var watch = WatchPods($"resourceVersion={Api.ResourceVersion}&allowWatchBookmarks=true");
        var first = await watch.NextAsync();
        Api.SetLabel(Ns, "redis-0", "role", "master");
        var change = await watch.NextChangeAsync();
        var later = await watch.NextAsync();

        Assert.Equal(WatchEventKind.Bookmark, first.Kind);
        Assert.Equal(WatchEventKind.Modified, change.Kind);
        Assert.Equal(WatchEventKind.Bookmark, later.Kind);
        Assert.Equal(change.ResourceVersion, later.ResourceVersion);
    }

    [Fact]
    public async Task Watch_WithoutBookmarks_GetsNoBookmarks()
    {
        Api.AddPod(Ns, "redis-0");

        await using var watch = WatchPods($"resourceVersion={Api.ResourceVersion}");
        Api.SetLabel(Ns, "redis-0", "role", "master");
        var end = await watch.EndAsync();

        Assert.Null(end);
        Assert.Equal([WatchEventKind.Modified], watch.Drained.Select(e => e.Kind));
    }

    [Fact]
    public async Task Watch_ServerExpiry_EndsAStreamThatAskedForALongerTimeout()
    {
        await using var watch = WatchPods("timeoutSeconds=3600");

        var end = await watch.EndAsync();

        Assert.Null(end);
    }

    [Fact]
    public async Task Watch_ChangeOlderThanTheHistoryWindow_Expires()
    {
        Api.AddPod(Ns, "redis-0");
        var old = Api.ResourceVersion;
        Api.SetLabel(Ns, "redis-0", "role", "master");
        await Task.Delay(400); // the change leaves the 300 ms history

        await using var watch = WatchPods($"resourceVersion={old}");
        var e = await watch.NextAsync();

        Assert.Equal((WatchEventKind.Error, 410), (e.Kind, e.Status!.Code));
    }
}
