using System.Net;
using System.Net.Sockets;
using RedisSidecars.Testing;
using Xunit;

namespace RedisSidecars.IntegrationTests.Harness;

/// <summary>The partition the fence tests rely on: it cuts what it says, both ways, nothing else, and leaves nothing behind.</summary>
public sealed class LoopbackPartitionTests : IAsyncLifetime
{
    int block;
    string ip1 = "", ip2 = "", ip3 = "";
    readonly List<TcpListener> listeners = [];

    public Task InitializeAsync()
    {
        block = LoopbackBlocks.Next();
        (ip1, ip2, ip3) = ($"127.{block}.3.1", $"127.{block}.3.2", $"127.{block}.3.3");
        return LoopbackPartition.EnsureUsableAsync();
    }

    public Task DisposeAsync()
    {
        foreach (var l in listeners) l.Stop();
        LoopbackBlocks.Release(block);
        return Task.CompletedTask;
    }

    int Listen(string ip)
    {
        var l = new TcpListener(IPAddress.Parse(ip), 0);
        l.Start();
        listeners.Add(l);
        _ = AcceptForeverAsync(l);
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    static async Task AcceptForeverAsync(TcpListener l)
    {
        try { while (true) (await l.AcceptTcpClientAsync()).Dispose(); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { }
    }

    /// <summary>A TCP connect from <paramref name="from"/> (null: the kernel's choice, 127.0.0.1) within 1.5 s.</summary>
    static async Task<bool> ConnectsAsync(string? from, string to, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null) socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        try
        {
            await socket.ConnectAsync(IPAddress.Parse(to), port).WaitAsync(TimeSpan.FromSeconds(1.5));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException) { return false; }
    }

    /// <summary>A TCP connect by a process running as <paramref name="uid"/> (bash's /dev/tcp under setpriv), within 2 s.</summary>
    static async Task<bool> ConnectsAsUidAsync(int uid, string to, int port)
    {
        var (code, _, _) = await Tools.RunAsync("/usr/bin/setpriv",
            [$"--reuid={uid}", $"--regid={uid}", "--clear-groups", "/usr/bin/timeout", "2", "/bin/bash", "-c", $"exec 3<>/dev/tcp/{to}/{port}"],
            new Dictionary<string, string>(), TimeSpan.FromSeconds(10));
        return code == 0;
    }

    static async Task<string[]> RulesTaggedAsync(string tag) =>
        (await LoopbackPartition.ListRulesAsync()).Where(l => l.Contains("--comment " + tag + " ", StringComparison.Ordinal) || l.EndsWith("--comment " + tag, StringComparison.Ordinal)).ToArray();

    [Fact]
    public async Task Cut_BetweenAddresses_DropsBothWaysOnlyBetweenThem_AndTheHealRemovesEveryRule()
    {
        var p1 = Listen(ip1);
        var p2 = Listen(ip2);
        Assert.True(await ConnectsAsync(ip2, ip1, p1));

        var cut = await LoopbackPartition.CutAsync("test", new PartitionSide([ip1]), new PartitionSide([ip2]));
        Assert.NotEmpty(await RulesTaggedAsync(cut.Tag));
        Assert.False(await ConnectsAsync(ip2, ip1, p1), "2 → 1 connected through the cut");
        Assert.False(await ConnectsAsync(ip1, ip2, p2), "1 → 2 connected through the cut");
        Assert.True(await ConnectsAsync(ip3, ip1, p1), "an address outside the partition was cut");
        Assert.True(await ConnectsAsync(null, ip1, p1), "127.0.0.1 (the API double, test clients) was cut");

        cut.Dispose();
        Assert.Empty(await RulesTaggedAsync(cut.Tag));
        Assert.True(await ConnectsAsync(ip2, ip1, p1));
        Assert.True(await ConnectsAsync(ip1, ip2, p2));
    }

    [Fact]
    public async Task Cut_ByUid_DropsThatUidsTrafficToTheOtherSide_NotOthers()
    {
        var uid = 3_000_000 + block * 16 + 15;
        var p1 = Listen(ip1);
        var p3 = Listen(ip3);
        Assert.True(await ConnectsAsUidAsync(uid, ip1, p1));

        using (await LoopbackPartition.CutAsync("uid test", new PartitionSide([], [uid]), new PartitionSide([ip1])))
        {
            Assert.False(await ConnectsAsUidAsync(uid, ip1, p1), $"uid {uid} connected through the cut");
            Assert.True(await ConnectsAsUidAsync(uid, ip3, p3), $"uid {uid} was cut from an address outside the partition");
            Assert.True(await ConnectsAsync(null, ip1, p1), "root's connections from 127.0.0.1 were cut");
        }
        Assert.True(await ConnectsAsUidAsync(uid, ip1, p1));
    }

    [Fact]
    public async Task Heal_RemovesOnlyItsOwnRules_StaleRulesOfAGoneProcessAreRemoved_OthersNeverTouched()
    {
        var other = $"redis-sidecars-test-other-{Guid.NewGuid():N}"[..40];
        var stale = $"redis-sidecars-cut_999999999_1_{block}"; // a pid that cannot exist
        string[] Rule(string op, string comment) => ["-w", "10", op, "OUTPUT", "-s", $"{ip3}/32", "-d", $"{ip3}/32", "-m", "comment", "--comment", comment, "-j", "DROP"];
        await Tools.RunAsync("/usr/sbin/iptables", Rule("-A", other), new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
        await Tools.RunAsync("/usr/sbin/iptables", Rule("-A", stale), new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
        try
        {
            var a = await LoopbackPartition.CutAsync("a", new PartitionSide([ip1]), new PartitionSide([ip2]));
            var b = await LoopbackPartition.CutAsync("b", new PartitionSide([ip1]), new PartitionSide([ip3]));
            a.Dispose();
            Assert.Empty(await RulesTaggedAsync(a.Tag));
            Assert.NotEmpty(await RulesTaggedAsync(b.Tag));
            b.Dispose();
            Assert.Empty(await RulesTaggedAsync(b.Tag));

            Assert.Single(await RulesTaggedAsync(stale));
            await LoopbackPartition.RemoveStaleRulesAsync();
            Assert.Empty(await RulesTaggedAsync(stale));
            Assert.Single(await RulesTaggedAsync(other));
        }
        finally
        {
            await Tools.RunAsync("/usr/sbin/iptables", Rule("-D", other), new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
            if ((await RulesTaggedAsync(stale)).Length > 0) await Tools.RunAsync("/usr/sbin/iptables", Rule("-D", stale), new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task Cut_OutsideLoopback_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => LoopbackPartition.CutAsync("bad", new PartitionSide(["10.0.0.1"]), new PartitionSide([ip1])));
        await Assert.ThrowsAsync<ArgumentException>(() => LoopbackPartition.CutAsync("bad", new PartitionSide([ip1]), new PartitionSide(["127.0.0.1; rm -rf /"])));
    }
}
