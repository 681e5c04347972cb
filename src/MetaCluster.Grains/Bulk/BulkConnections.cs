using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MetaCluster.Contracts;

namespace MetaCluster.Grains.Bulk;

/// <summary>
/// The fetching side of the bulk channel: connections to other silos' <see cref="BulkServer"/>s, kept open between
/// fetches (one per fetch in flight), and the fetch itself — the id out, the length and the bytes back, received
/// straight into the caller's buffer. A connection idle for <see cref="IdleLifetime"/> is closed (checked as fetches
/// come, at most once per lifetime): a silo that has left the cluster is never fetched from again, and its connections
/// would otherwise stay open for the life of the process.
/// </summary>
internal sealed class BulkConnections(TimeSpan timeout, TimeSpan? idleLifetime = null) : IDisposable
{
    private sealed record Idle(Socket Socket, long Since);

    private readonly ConcurrentDictionary<string, ConcurrentBag<Idle>> _idle = new();
    private bool _disposed;
    private long _bytesFetched;
    private long _lastSweep = Environment.TickCount64;

    /// <summary>How long a kept connection may wait for its next fetch (a round's, normally within seconds).</summary>
    public TimeSpan IdleLifetime { get; } = idleLifetime ?? TimeSpan.FromMinutes(2);

    /// <summary>Connections kept open for the next fetch now (for tests).</summary>
    public int Kept => _idle.Values.Sum(bag => bag.Count);

    /// <summary>Bytes received over sockets so far.</summary>
    public long BytesFetched => Interlocked.Read(ref _bytesFetched);

    /// <summary>Fetches the ticket's bytes into <paramref name="into"/> (exactly its length), or throws <see cref="BulkTransferException"/>.</summary>
    public async Task Fetch(BulkTicket ticket, Memory<byte> into)
    {
        if (into.Length != ticket.Length) throw new ArgumentException($"{ticket} cannot be fetched into {into.Length} bytes.");
        using var deadline = new CancellationTokenSource(timeout);
        Sweep();
        // A kept connection may have been closed by its server since (the silo restarted): then once more on a new one.
        if (TakeIdle(ticket.Endpoint) is { } kept && await TryFetch(kept, ticket, into, deadline.Token, reused: true).ConfigureAwait(false)) return;
        var fresh = await Connect(ticket, deadline.Token).ConfigureAwait(false);
        await TryFetch(fresh, ticket, into, deadline.Token, reused: false).ConfigureAwait(false);
    }

    /// <summary>False only for a reused connection that turned out closed before anything was received.</summary>
    private async Task<bool> TryFetch(Socket socket, BulkTicket ticket, Memory<byte> into, CancellationToken token, bool reused)
    {
        bool keep = false;
        try
        {
            var header = new byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(header, ticket.Id);
            await BulkSockets.SendAll(socket, header, token).ConfigureAwait(false);
            if (!await BulkSockets.ReceiveExactly(socket, header, token).ConfigureAwait(false))
            {
                if (reused) return false;
                throw new BulkTransferException($"fetching {ticket}: the publisher closed the connection without answering.");
            }
            long length = BinaryPrimitives.ReadInt64LittleEndian(header);
            if (length < 0)
            {
                keep = true;
                throw new BulkTransferException($"fetching {ticket}: the publisher no longer holds it (withdrawn, already taken, or older than its lifetime).");
            }
            if (length != ticket.Length)
                throw new BulkTransferException($"fetching {ticket}: the publisher offers {length} bytes.");
            if (!await BulkSockets.ReceiveExactly(socket, into, token).ConfigureAwait(false))
                throw new BulkTransferException($"fetching {ticket}: the publisher closed the connection before the bytes.");
            Interlocked.Add(ref _bytesFetched, into.Length);
            keep = true;
            return true;
        }
        catch (SocketException e) when (reused && e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            return false;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            throw new BulkTransferException(e is OperationCanceledException
                ? $"fetching {ticket}: no answer within {timeout.TotalSeconds:F0} s."
                : $"fetching {ticket}: {e.Message}", e);
        }
        finally
        {
            if (keep && !_disposed) _idle.GetOrAdd(ticket.Endpoint, _ => []).Add(new Idle(socket, Environment.TickCount64));
            else socket.Dispose();
        }
    }

    private Socket? TakeIdle(string endpoint) => _idle.TryGetValue(endpoint, out var bag) && bag.TryTake(out var idle) ? idle.Socket : null;

    /// <summary>Closes the connections idle longer than <see cref="IdleLifetime"/>, to any silo, at most once per lifetime.</summary>
    private void Sweep()
    {
        long now = Environment.TickCount64, last = Interlocked.Read(ref _lastSweep);
        if (now - last < IdleLifetime.TotalMilliseconds || Interlocked.CompareExchange(ref _lastSweep, now, last) != last) return;
        foreach (var bag in _idle.Values)
        {
            // Take every kept connection out once; the fresh ones go back.
            var fresh = new List<Idle>();
            while (bag.TryTake(out var idle))
            {
                if (now - idle.Since > IdleLifetime.TotalMilliseconds) idle.Socket.Dispose();
                else fresh.Add(idle);
            }
            foreach (var idle in fresh) bag.Add(idle);
        }
    }

    private static async Task<Socket> Connect(BulkTicket ticket, CancellationToken token)
    {
        if (!IPEndPoint.TryParse(ticket.Endpoint, out var endpoint))
            throw new BulkTransferException($"fetching {ticket}: '{ticket.Endpoint}' is not an address:port.");
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, token).ConfigureAwait(false);
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new BulkTransferException($"fetching {ticket}: cannot connect ({e.Message}).", e);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var bag in _idle.Values)
            while (bag.TryTake(out var idle)) idle.Socket.Dispose();
    }
}
