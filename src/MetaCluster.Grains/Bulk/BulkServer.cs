using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using MetaCluster.Contracts;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Grains.Bulk;

/// <summary>
/// Bytes a silo has published for fetching (θ at a coordinator, partial sums at a hub), and the TCP listener that
/// serves them. The protocol is as small as the job: a client sends a blob's 8-byte id and gets its 8-byte length
/// (−1: not here, or no longer) and then its bytes, on a connection it keeps for the next fetch. A blob is either
/// shared (θ: any number of fetches until it is withdrawn) or taken by its first fetch (a partial sum); one left unfetched —
/// its fetcher died — is dropped after <see cref="Lifetime"/>. Ids are random 64-bit numbers, so only a ticket's holder can
/// ask; like the silo port itself, the listener is for the cluster's own network.
/// </summary>
internal sealed class BulkServer : IDisposable
{
    private sealed record Blob(ReadOnlySequence<byte> Bytes, bool TakeOnce, Action? Release, long Published)
    {
        private int _released;
        public void Let() { if (Interlocked.Exchange(ref _released, 1) == 0) Release?.Invoke(); }
    }

    private readonly ConcurrentDictionary<long, Blob> _blobs = new();
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private long _lastSweep = Environment.TickCount64;

    /// <summary>How long an unfetched blob is kept at most.</summary>
    public TimeSpan Lifetime { get; }

    /// <summary>"address:port", as tickets name it.</summary>
    public string Endpoint { get; }

    /// <summary>Blobs waiting now (for tests and metrics).</summary>
    public int Waiting => _blobs.Count;

    /// <summary>Bytes sent to fetchers over sockets so far (local copies not counted).</summary>
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    private long _bytesSent;

    public BulkServer(IPAddress address, int port, TimeSpan lifetime, ILogger logger)
    {
        (Lifetime, _logger) = (lifetime, logger);
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _listener.Bind(new IPEndPoint(address, port));
            _listener.Listen(256);
        }
        catch (SocketException e)
        {
            _listener.Dispose();
            throw new InvalidOperationException(
                $"the bulk channel cannot listen on {address}:{port} ({e.SocketErrorCode}: {e.Message}): pass a free --bulk-port, 0 for any free port, or --bulk-transfer false to send θ and sums in the grain messages.", e);
        }
        Endpoint = ((IPEndPoint)_listener.LocalEndPoint!).ToString();
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>Makes <paramref name="bytes"/> fetchable; <paramref name="release"/> runs once they are no longer needed here.</summary>
    public BulkTicket Publish(ReadOnlySequence<byte> bytes, bool takeOnce, Action? release = null)
    {
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        Sweep();
        var blob = new Blob(bytes, takeOnce, release, Environment.TickCount64);
        long id;
        do id = BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(8));
        while (id < 0 || !_blobs.TryAdd(id, blob));
        return new BulkTicket { Endpoint = Endpoint, Id = id, Length = checked((int)bytes.Length) };
    }

    /// <summary>Stops serving a blob (a round's θ once the round is over); fetches under way finish with the bytes they have.</summary>
    public void Withdraw(BulkTicket ticket)
    {
        if (ticket.Endpoint == Endpoint && _blobs.TryRemove(ticket.Id, out var blob)) blob.Let();
    }

    /// <summary>A fetch from this process: the bytes are copied without a socket. False when the blob is not here.</summary>
    public bool TryCopy(BulkTicket ticket, Memory<byte> into)
    {
        if (ticket.Endpoint != Endpoint || Find(ticket.Id) is not { } blob) return false;
        try
        {
            if (blob.Bytes.Length != into.Length)
                throw new BulkTransferException($"{ticket} holds {blob.Bytes.Length} bytes, but {into.Length} were expected.");
            blob.Bytes.CopyTo(into.Span);
            return true;
        }
        finally
        {
            if (blob.TakeOnce) blob.Let();
        }
    }

    private Blob? Find(long id) => _blobs.TryGetValue(id, out var blob) && (!blob.TakeOnce || _blobs.TryRemove(new(id, blob))) ? blob : null;

    /// <summary>Drops blobs older than <see cref="Lifetime"/> — a partial sum whose coordinator died before fetching it — at most once a second.</summary>
    private void Sweep()
    {
        long now = Environment.TickCount64, last = Interlocked.Read(ref _lastSweep);
        if (now - last < 1000 || Interlocked.CompareExchange(ref _lastSweep, now, last) != last) return;
        foreach (var (id, blob) in _blobs)
            if (now - blob.Published > Lifetime.TotalMilliseconds && _blobs.TryRemove(new(id, blob)))
                blob.Let();
    }

    private async Task AcceptLoop()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && _stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                _logger.LogWarning("Bulk channel {Endpoint}: accepting a connection failed ({Error}).", Endpoint, e.Message);
                continue;
            }
            connection.NoDelay = true;
            _ = Task.Run(() => Serve(connection));
        }
    }

    private async Task Serve(Socket connection)
    {
        using var _ = connection;
        var request = new byte[sizeof(long)];
        var header = new byte[sizeof(long)];
        var token = _stopping.Token;
        try
        {
            while (await BulkSockets.ReceiveExactly(connection, request, token).ConfigureAwait(false))
            {
                var blob = Find(BinaryPrimitives.ReadInt64LittleEndian(request));
                try
                {
                    BinaryPrimitives.WriteInt64LittleEndian(header, blob?.Bytes.Length ?? -1);
                    await BulkSockets.SendAll(connection, header, token).ConfigureAwait(false);
                    if (blob is null) continue;
                    foreach (var segment in blob.Bytes) await BulkSockets.SendAll(connection, segment, token).ConfigureAwait(false);
                    Interlocked.Add(ref _bytesSent, blob.Bytes.Length);
                }
                finally
                {
                    if (blob is { TakeOnce: true }) blob.Let();
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The fetcher went away (or this silo is stopping): its side reports the failure.
            _logger.LogDebug("Bulk channel {Endpoint}: a connection ended ({Error}).", Endpoint, e.Message);
        }
    }

    public void Dispose()
    {
        if (_stopping.IsCancellationRequested) return;
        _stopping.Cancel();
        _listener.Dispose();
        foreach (var id in _blobs.Keys)
            if (_blobs.TryRemove(id, out var blob)) blob.Let();
    }
}
