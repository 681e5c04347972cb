using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Writes the coordinator's record and fences a stale activation. While a silo is being declared dead the grain
/// directory can lose an activation's entry, and a call then activates the coordinator a second time; the new
/// activation takes the run over from the record (and writes it). The old one notices — the record's ETag moved, or
/// its own write is refused — and stops without writing, so exactly one activation drives the run. θ is unaffected
/// either way: the rounds are deterministic.
/// </summary>
internal sealed class RunFence(IPersistentState<CoordinatorRecord> record, string runId, ILogger logger)
{
    /// <summary>How often a running coordinator checks that no other activation has taken its run over.</summary>
    public static readonly TimeSpan OwnershipCheckInterval = TimeSpan.FromSeconds(2);

    private readonly Stopwatch _sinceCheck = Stopwatch.StartNew();

    /// <summary>Another activation owns the run: this one must neither drive nor write it any more.</summary>
    public bool Superseded { get; private set; }

    /// <summary>
    /// Best effort: a write that fails (storage briefly unreachable, its grain on a silo that just died) leaves the
    /// previous record, an older recovery point, and must not stop a healthy run.
    /// </summary>
    public async Task Write()
    {
        if (Superseded) return;
        try
        {
            await record.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            StandDown("its record was written by another activation", record.State.Round);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not persist the record of run {RunId}; the previous recovery point stands.", runId);
        }
    }

    /// <summary>Every <see cref="OwnershipCheckInterval"/>, re-reads the record's ETag; true once the run belongs to another activation.</summary>
    public async Task<bool> CheckSuperseded()
    {
        if (Superseded || _sinceCheck.Elapsed < OwnershipCheckInterval) return Superseded;
        _sinceCheck.Restart();
        // Reading replaces the in-memory state; this activation's state is the live one, so it is put back.
        var (ours, etag) = (record.State, record.Etag);
        try
        {
            await record.ReadStateAsync();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not read the run record to check ownership; going on.", runId);
            return false;
        }
        finally
        {
            record.State = ours;
        }
        if (record.Etag != etag) StandDown("another activation has written its record", ours.Round);
        return Superseded;
    }

    private void StandDown(string why, long round)
    {
        if (Superseded) return;
        Superseded = true;
        logger.LogWarning("Run {RunId}: {Why}; this activation stops at round {Round} and leaves the run to it.", runId, why, round);
    }
}
