using System.Buffers;
using System.Net;
using System.Net.Sockets;
using MetaCluster.Contracts;
using MetaCluster.Grains.Bulk;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Cluster.Tests;

/// <summary>The bulk channel on its own: what is published arrives whole, once or many times as published, and every failure names itself.</summary>
public class BulkChannelTests
{
    private static BulkServer Server(TimeSpan? lifetime = null) => new(IPAddress.Loopback, 0, lifetime ?? TimeSpan.FromMinutes(1), NullLogger.Instance);

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task ASumWrittenInPiecesArrivesWholeOnceAndIsReleasedOnce()
    {
        using var server = Server();
        using var connections = new BulkConnections(TimeSpan.FromSeconds(30));
        var expected = Bytes(100_003, 1);
        var pooled = new PooledBuffer();
        for (int at = 0; at < expected.Length; at += 3000) pooled.Write(expected.AsSpan(at, Math.Min(3000, expected.Length - at)));
        var sequence = pooled.AsReadOnlySequence();
        Assert.False(sequence.IsSingleSegment); // pieces of the pool's 4 KB blocks: the send walks them
        int released = 0;
        var ticket = server.Publish(sequence, takeOnce: true, () => { released++; pooled.Dispose(); });

        var received = new byte[ticket.Length];
        await connections.Fetch(ticket, received);

        Assert.Equal(expected, received);
        Assert.Equal(1, released);
        Assert.Equal(0, server.Waiting);
        Assert.Equal(expected.Length, server.BytesSent);
        Assert.Equal(expected.Length, connections.BytesFetched);
        var again = await Assert.ThrowsAsync<BulkTransferException>(() => connections.Fetch(ticket, new byte[ticket.Length]));
        Assert.Contains("no longer holds it", again.Message);
        Assert.Equal(1, released);
    }

    [Fact]
    public async Task ThetaPublishedSharedServesConcurrentFetchesUntilWithdrawn()
    {
        using var server = Server();
        using var connections = new BulkConnections(TimeSpan.FromSeconds(30));
        var theta = Bytes(451_572, 2);
        var ticket = server.Publish(new ReadOnlySequence<byte>(theta), takeOnce: false);

        var copies = Enumerable.Range(0, 8).Select(_ => new byte[ticket.Length]).ToArray();
        await Task.WhenAll(copies.Select(c => connections.Fetch(ticket, c)));
        Assert.All(copies, c => Assert.Equal(theta, c));
        await connections.Fetch(ticket, copies[0]); // on a kept connection
        Assert.Equal(9L * theta.Length, server.BytesSent);

        server.Withdraw(ticket);
        var gone = await Assert.ThrowsAsync<BulkTransferException>(() => connections.Fetch(ticket, new byte[ticket.Length]));
        Assert.Contains(ticket.Endpoint, gone.Message);
        Assert.Contains("no longer holds it", gone.Message);
    }

    [Fact]
    public void AFetchFromThisProcessCopiesWithoutASocket()
    {
        using var server = Server();
        var sum = Bytes(9_000, 3);
        int released = 0;
        var ticket = server.Publish(new ReadOnlySequence<byte>(sum), takeOnce: true, () => released++);
        var copy = new byte[ticket.Length];
        // A ticket of another publisher is not this server's to copy, whatever its id.
        Assert.False(server.TryCopy(new BulkTicket { Endpoint = "127.0.0.1:1", Id = ticket.Id, Length = ticket.Length }, copy));

        Assert.True(server.TryCopy(ticket, copy));
        Assert.Equal(sum, copy);
        Assert.Equal(1, released);
        Assert.Equal(0, server.BytesSent);
        Assert.False(server.TryCopy(ticket, copy)); // taken
    }

    [Fact]
    public async Task AnUnfetchedSumIsDroppedAfterItsLifetimeAndReleasedOnce()
    {
        using var server = Server(TimeSpan.FromMilliseconds(50));
        int released = 0;
        var stale = server.Publish(new ReadOnlySequence<byte>(Bytes(10, 4)), takeOnce: true, () => released++);
        await Task.Delay(1100); // sweeps run at most once a second, on a publish
        server.Publish(new ReadOnlySequence<byte>(Bytes(10, 5)), takeOnce: true);
        Assert.Equal(1, released);
        Assert.Equal(1, server.Waiting);
        Assert.False(server.TryCopy(stale, new byte[10]));
    }

    [Fact]
    public async Task AStoppedPublisherAndASilentOneFailTheFetchNamingWhy()
    {
        using var connections = new BulkConnections(TimeSpan.FromMilliseconds(500));
        var server = Server();
        var ticket = server.Publish(new ReadOnlySequence<byte>(Bytes(5000, 6)), takeOnce: false);
        await connections.Fetch(ticket, new byte[ticket.Length]); // leaves a kept connection
        server.Dispose();
        var stopped = await Assert.ThrowsAsync<BulkTransferException>(() => connections.Fetch(ticket, new byte[ticket.Length]));
        Assert.Contains("cannot connect", stopped.Message);

        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(); // accepts (the kernel does) but never answers
        var unanswered = new BulkTicket { Endpoint = silent.LocalEndPoint!.ToString()!, Id = 1, Length = 10 };
        var timedOut = await Assert.ThrowsAsync<BulkTransferException>(() => connections.Fetch(unanswered, new byte[10]));
        Assert.Contains("no answer within", timedOut.Message);
    }

    [Fact]
    public async Task AConnectionIdleLongerThanItsLifetimeIsClosedWhicheverSiloItLeadsTo()
    {
        using var leaving = Server();
        using var staying = Server();
        using var connections = new BulkConnections(TimeSpan.FromSeconds(30), idleLifetime: TimeSpan.FromMilliseconds(200));
        var theta = Bytes(5000, 3);
        await connections.Fetch(leaving.Publish(new ReadOnlySequence<byte>(theta), takeOnce: false), new byte[theta.Length]);
        Assert.Equal(1, connections.Kept);
        leaving.Dispose(); // the silo leaves the cluster: nothing will fetch from it again
        await Task.Delay(500);
        var received = new byte[theta.Length];
        await connections.Fetch(staying.Publish(new ReadOnlySequence<byte>(theta), takeOnce: false), received);
        Assert.Equal(theta, received);
        Assert.Equal(1, connections.Kept); // the connection just used; the one to the silo that left was closed
    }

    [Fact]
    public void APortThatIsTakenFailsTheStartNamingTheOption()
    {
        using var first = Server();
        int port = IPEndPoint.Parse(first.Endpoint).Port;
        var error = Assert.Throws<InvalidOperationException>(() => new BulkServer(IPAddress.Loopback, port, TimeSpan.FromMinutes(1), NullLogger.Instance));
        Assert.Contains("--bulk-port", error.Message);
    }
}
