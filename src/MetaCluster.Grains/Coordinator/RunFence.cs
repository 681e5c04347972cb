using System.Diagnostics;
using MetaCluster.Grains.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Writes the coordinator's record and fences a stale activation. While a silo is being declared dead the grain
/// directory can lose an activation's entry, and a call then activates the coordinator a second time; the new
/// activation takes the run over from the record (and writes it). The old one notices — the record's ETag moved, or
/// its own write is refused — and stops without writing, so exactly one activation drives the run. θ is unaffected
/// either way: the rounds are deterministic.
///
/// A record that is gone is not a newer record: storage that lost its data (Redis restarted empty) is told apart from
/// a takeover, and the live activation writes its record again from what it holds — the run, its last checkpoint and
/// round — so the run stays recoverable; <paramref name="restored"/> then re-registers what else storage lost.
/// </summary>
internal sealed class RunFence(IPersistentState<CoordinatorRecord> record, string runId, ILogger logger, Func<Task>? restored = null)
{
    /// <summary>How often a running coordinator checks that no other activation has taken its run over.</summary>
    public static readonly TimeSpan OwnershipCheckInterval = TimeSpan.FromSeconds(2);

    private readonly Stopwatch _sinceCheck = Stopwatch.StartNew();

    /// <summary>Another activation owns the run: this one must neither drive nor write it any more.</summary>
    public bool Superseded { get; private set; }

    /// <summary>How many times this activation found its record gone from storage and wrote it again.</summary>
    public int Rewrites { get; private set; }

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
            // Refused: another activation wrote the record — or the record is gone and the ETag we hold names nothing.
            if (await Probe() == Found.Gone) await Rewrite();
            else StandDown("its record was written by another activation", record.State.Round);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not persist the record of run {RunId}; the previous recovery point stands.", runId);
        }
    }

    /// <summary>Every <see cref="OwnershipCheckInterval"/> (or <paramref name="now"/>), re-reads the record's ETag; true once the run belongs to another activation.</summary>
    public async Task<bool> CheckSuperseded(bool now = false)
    {
        if (Superseded || (!now && _sinceCheck.Elapsed < OwnershipCheckInterval)) return Superseded;
        _sinceCheck.Restart();
        var etag = record.Etag;
        switch (await Probe())
        {
            case Found.Gone:
                await Rewrite();
                break;
            case Found.Present when record.Etag != etag:
                StandDown("another activation has written its record", record.State.Round);
                break;
        }
        return Superseded;
    }

    private enum Found { Unknown, Present, Gone }

    /// <summary>Reads the record's ETag and whether it exists; this activation's state stays the in-memory one.</summary>
    private async Task<Found> Probe()
    {
        // Reading replaces the in-memory state (and, for a record that is gone, clears the ETag a new write must not
        // carry); this activation's state is the live one, so it is put back.
        var ours = record.State;
        try
        {
            await record.ReadStateAsync();
            return record.RecordExists ? Found.Present : Found.Gone;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not read the run record to check ownership; going on.", runId);
            return Found.Unknown;
        }
        finally
        {
            record.State = ours;
        }
    }

    /// <summary>The record is gone from storage: written again, new, from this activation's state.</summary>
    private async Task Rewrite()
    {
        try
        {
            await record.WriteStateAsync();
        }
        catch (Exception e)
        {
            // Another activation may have been quicker (then the next check stands this one down), or storage is still away.
            logger.LogWarning(e, "Run {RunId}: its record is gone from storage and could not be written again yet; retrying at the next check.", runId);
            return;
        }
        Rewrites++;
        logger.LogWarning("Run {RunId}: its record was gone from storage (restarted empty?) — not a takeover; this activation wrote it again at round {Round} " +
            "(checkpoint round {Checkpoint}) and goes on.", runId, record.State.Round, record.State.CheckpointRound?.ToString() ?? "none");
        if (restored is not null) await restored();
    }

    private void StandDown(string why, long round)
    {
        if (Superseded) return;
        Superseded = true;
        logger.LogWarning("Run {RunId}: {Why}; this activation stops at round {Round} and leaves the run to it.", runId, why, round);
    }

    /// <summary>
    /// Whether a round that failed with <paramref name="error"/> means this activation lost the run rather than the run
    /// failing: another activation took it over, the runtime took this one away, or this silo is cut off from the
    /// cluster (its membership table gone, and the workers it saw with it; the server restarts). Then it stands down
    /// without failing the run, and the next activation resumes from the checkpoint.
    /// </summary>
    public async Task<bool> LostTheRun(Exception error, long round, IServiceProvider services)
    {
        string? why = Superseded || await CheckSuperseded(now: true) ? "after this activation lost the run"
            : await MembershipCheck.WhyCutOffAsync(services) is { } cutOff ? $"while this silo is cut off from the cluster ({cutOff})"
            : null;
        if (why is null) return false;
        Deactivating(why, round);
        logger.LogWarning("Run {RunId}: round {Round} was cut short ({Error}) {Why}; it stands down without failing the run.", runId, round, error.Message, why);
        return true;
    }

    /// <summary>This activation is being deactivated by the runtime: it stops driving the run without writing it.</summary>
    public void Deactivating(string why, long round) => StandDown($"this activation gives the run up ({why}); the next one resumes from the last checkpoint", round);
}
