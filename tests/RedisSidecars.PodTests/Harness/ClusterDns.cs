using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RedisSidecars.PodTests.Harness;

/// <summary>
/// The pods' cluster DNS (CoreDNS's part): a UDP server on the Docker network's gateway, port 53, that answers A
/// queries from <c>resolve</c> and says NXDOMAIN at once for every other name, so a pod looking up a peer that
/// does not exist yet gets the quick "no such host" a cluster gives (Docker's embedded DNS would forward it and
/// hang). No upstream: nothing outside the cluster resolves. Each pod's /etc/resolv.conf names it.
/// </summary>
public sealed class ClusterDns : IAsyncDisposable
{
    const ushort TypeA = 1;
    const uint Ttl = 5;
    readonly UdpClient udp;
    readonly Func<string, IReadOnlyList<IPAddress>?> resolve;
    readonly CancellationTokenSource stop = new();
    readonly Task loop;

    /// <param name="resolve">Name (lower case, no trailing dot) → its IPv4 addresses, or null when it does not exist.</param>
    public ClusterDns(IPAddress address, Func<string, IReadOnlyList<IPAddress>?> resolve)
    {
        this.resolve = resolve;
        udp = new UdpClient(new IPEndPoint(address, 53));
        Address = address;
        loop = Task.Run(ServeAsync);
    }

    public IPAddress Address { get; }

    async Task ServeAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            UdpReceiveResult request;
            try { request = await udp.ReceiveAsync(stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { continue; }
            if (Reply(request.Buffer, resolve) is { } reply)
            {
                try { await udp.SendAsync(reply, request.RemoteEndPoint, stop.Token); }
                catch (Exception e) when (e is SocketException or OperationCanceledException) { }
            }
        }
    }

    /// <summary>The reply to one query (RFC 1035 §4): the question echoed, A records or NXDOMAIN; null for junk.</summary>
    public static byte[]? Reply(byte[] query, Func<string, IReadOnlyList<IPAddress>?> resolve)
    {
        if (query.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4)) != 1) return null;
        var (name, end) = ReadName(query, 12);
        if (name is null || end + 4 > query.Length) return null;
        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(end));
        var question = query.AsSpan(12, end + 4 - 12);
        var addresses = resolve(name.ToLowerInvariant().TrimEnd('.'));
        var answers = type == TypeA && addresses is not null ? addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToList() : [];

        var reply = new List<byte>(512);
        var header = new byte[12];
        query.AsSpan(0, 2).CopyTo(header); // id
        var rd = query[2] & 0x01;
        header[2] = (byte)(0x80 | 0x04 | rd); // QR, AA, RD echoed
        header[3] = (byte)(0x80 | (addresses is null ? 3 : 0)); // RA, NXDOMAIN or NOERROR
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), (ushort)answers.Count);
        reply.AddRange(header);
        reply.AddRange(question.ToArray());
        foreach (var ip in answers)
        {
            var record = new byte[16];
            BinaryPrimitives.WriteUInt16BigEndian(record, 0xC00C); // the question's name
            BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(2), TypeA);
            BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(4), 1); // IN
            BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(6), Ttl);
            BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(10), 4);
            ip.GetAddressBytes().CopyTo(record, 12);
            reply.AddRange(record);
        }
        return [.. reply];
    }

    static (string? Name, int End) ReadName(byte[] message, int offset)
    {
        var sb = new StringBuilder();
        while (offset < message.Length)
        {
            var length = message[offset++];
            if (length == 0) return (sb.ToString(), offset);
            if (length > 63 || offset + length > message.Length) return (null, offset); // no compression in questions
            if (sb.Length > 0) sb.Append('.');
            sb.Append(Encoding.ASCII.GetString(message, offset, length));
            offset += length;
        }
        return (null, offset);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        udp.Dispose();
        try { await loop; } catch (ObjectDisposedException) { }
        stop.Dispose();
    }
}
