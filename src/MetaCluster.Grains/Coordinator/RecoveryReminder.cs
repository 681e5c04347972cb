using Microsoft.Extensions.Logging;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// The reminder that reactivates a live run's coordinator after the silo hosting it died. Best effort both ways:
/// without it a run still recovers when a client calls its coordinator, and a leftover one finds the run finished.
/// </summary>
internal sealed class RecoveryReminder(IGrainBase grain, TimeSpan period, string runId, ILogger logger)
{
    public const string Name = "metacluster-recover";

    public async Task Register()
    {
        try
        {
            await grain.RegisterOrUpdateReminder(Name, period, period);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not register the recovery reminder; the run recovers only when a client calls it.", runId);
        }
    }

    public async Task Unregister()
    {
        try
        {
            if (await grain.GetReminder(Name) is { } reminder) await grain.UnregisterReminder(reminder);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not remove the recovery reminder (harmless: it finds the run finished).", runId);
        }
    }
}
