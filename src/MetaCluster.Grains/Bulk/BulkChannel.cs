using System.Buffers;
using System.Diagnostics.Metrics;
using MetaCluster.Contracts;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Grains.Bulk;

/// <summary>
/// A silo's bulk channel: θ and partial sums between processes, outside the grain messages, which carry a
/// <see cref="BulkTicket"/> instead. Orleans' transport reads a message in 4 KB blocks and wakes its reader for each;
/// for the few large blocks of a round — θ to every worker process, a partial sum back from each — one socket read
/// into the final buffer costs a fraction of that, and θ lands in a reused array rather than a fresh large-object one.
/// The listener starts with the silo (a port that cannot be bound fails the start, not a round). Within one silo
/// nothing goes through it: local grain calls pass the bytes by reference.
/// </summary>
public sealed class BulkChannel : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly IOptions<MetaClusterSiloOptions> _options;
    private readonly ILocalSiloDetails _silo;
    private readonly ILogger<BulkChannel> _logger;
    private BulkServer? _server;
    private readonly BulkConnections _connections;

    public BulkChannel(IOptions<MetaClusterSiloOptions> options, ILocalSiloDetails silo, IMeterFactory meters, ILogger<BulkChannel> logger)
    {
        (_options, _silo, _logger) = (options, silo, logger);
        _connections = new BulkConnections(options.Value.BulkFetchTimeout);
        // metacluster_bulk_bytes_total{direction="sent|fetched"}: what crossed processes outside the grain messages.
        meters.Create(MetaClusterMetrics.MeterName).CreateObservableCounter("metacluster.bulk", () => new[]
        {
            new Measurement<long>(BytesSent, new KeyValuePair<string, object?>("direction", "sent")),
            new Measurement<long>(BytesFetched, new KeyValuePair<string, object?>("direction", "fetched")),
        }, "By", "Bytes of θ and partial sums this silo sent or fetched over its bulk channel.");
    }

    /// <summary>Whether this silo publishes over the channel (<see cref="MetaClusterSiloOptions.BulkTransfer"/>) and has started it.</summary>
    public bool Enabled => _server is not null;

    /// <summary>Unfetched blobs held here now.</summary>
    public int Waiting => _server?.Waiting ?? 0;

    /// <summary>Bytes this silo has sent to other processes over the channel, and fetched from them.</summary>
    public long BytesSent => _server?.BytesSent ?? 0;
    public long BytesFetched => _connections.BytesFetched;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(BulkChannel), ServiceLifecycleStage.RuntimeInitialize, _ =>
        {
            if (_options.Value.BulkTransfer)
            {
                _server = new BulkServer(_silo.SiloAddress.Endpoint.Address, _options.Value.BulkPort, _options.Value.BulkBlobLifetime, _logger);
                _logger.LogInformation("Bulk channel listening on {Endpoint}.", _server.Endpoint);
            }
            return Task.CompletedTask;
        }, _ =>
        {
            Dispose();
            return Task.CompletedTask;
        });

    /// <summary>Whether a worker key ("&lt;silo&gt;/hub", "&lt;silo&gt;/3") names this silo: its calls are local, nothing to fetch.</summary>
    public bool IsThisSilo(string worker) => WorkerKey.TryParseSilo(worker, out var s) && s == _silo.SiloAddress.ToParsableString();

    /// <summary>A round's θ, fetchable by any number of hubs until <see cref="Withdraw"/>; the caller keeps the array unchanged until then.</summary>
    public BulkTicket PublishShared(byte[] bytes) => Server.Publish(new ReadOnlySequence<byte>(bytes), takeOnce: false);

    /// <summary>A partial sum, fetched once: its pooled memory goes back when it has been sent (or is dropped unfetched).</summary>
    public BulkTicket PublishOnce(PooledBuffer bytes)
    {
        var sequence = bytes.AsReadOnlySequence();
        return Server.Publish(sequence, takeOnce: true, () => bytes.Dispose());
    }

    public void Withdraw(BulkTicket ticket) => _server?.Withdraw(ticket);

    /// <summary>Fetches a ticket's bytes into <paramref name="into"/> — by copy when it was published here — or throws <see cref="BulkTransferException"/>.</summary>
    public Task Fetch(BulkTicket ticket, Memory<byte> into) =>
        _server is { } local && local.TryCopy(ticket, into) ? Task.CompletedTask : _connections.Fetch(ticket, into);

    /// <summary>
    /// A reply whose partial sum waits at its sender's bulk channel, with the sum fetched into pooled memory (the form an
    /// Orleans message would have given it); any other reply as it is.
    /// </summary>
    public async Task<WorkResult> ReceiveSum(Task<WorkResult> reply)
    {
        var result = await reply;
        if (result.SumTicket is not { } ticket) return result;
        var sum = new PooledBuffer();
        try
        {
            await Fetch(ticket, sum.GetMemory(ticket.Length)[..ticket.Length]).ConfigureAwait(false);
            sum.Advance(ticket.Length);
            return result.WithPartialSum(sum);
        }
        catch
        {
            sum.Dispose();
            throw;
        }
    }

    private BulkServer Server => _server ?? throw new InvalidOperationException("this silo's bulk channel is off (--bulk-transfer false) or not started.");

    public void Dispose()
    {
        _server?.Dispose();
        _connections.Dispose();
    }
}
