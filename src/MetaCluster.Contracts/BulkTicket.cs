namespace MetaCluster.Contracts;

/// <summary>
/// Where a large block of bytes (θ, a partial sum) waits to be fetched over a silo's bulk channel instead of riding
/// in the grain message: the grain call carries this ticket, the receiver reads the bytes with large socket reads.
/// Orleans' transport reads a message in 4 KB blocks and wakes its message reader for each one; a 450 KB θ cost 3–4 ms
/// a hop that way on a loaded two-core host, the bulk channel a fraction of that (docs/benchmarks.md).
/// </summary>
[GenerateSerializer, Immutable, Alias("mc.BulkTicket")]
public sealed class BulkTicket
{
    /// <summary>The publishing silo's bulk endpoint, "address:port".</summary>
    [Id(0)] public required string Endpoint { get; init; }
    /// <summary>A random 64-bit name: only a holder of the ticket can ask for the bytes.</summary>
    [Id(1)] public required long Id { get; init; }
    [Id(2)] public required int Length { get; init; }

    public override string ToString() => $"{Length} bytes at {Endpoint} (#{Id:x16})";
}
