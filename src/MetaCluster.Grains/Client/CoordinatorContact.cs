using System.Diagnostics;

namespace MetaCluster.Grains;

/// <summary>
/// Following a run across the loss of its coordinator's silo: calls fail until membership declares the silo dead and
/// a new activation takes the run over. Says so once, and gives up only after <see cref="RunFollowing.GiveUpAfter"/>.
/// </summary>
internal sealed class CoordinatorContact(string runId, RunFollowing following)
{
    public static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(500);
    private Stopwatch? _lostFor;

    /// <summary>Failures a coordinator takeover explains: the silo is gone, a message was rejected or timed out.</summary>
    public static bool IsTransient(Exception e) =>
        e is TimeoutException || (e is OrleansException && e is not OrleansConfigurationException); // rejections, dead silos, lost connections

    public void Lost(Exception e)
    {
        if (_lostFor is null)
        {
            _lostFor = Stopwatch.StartNew();
            following.Notice?.Invoke($"lost contact with the coordinator of run {runId} ({e.GetType().Name}: {FirstLine(e.Message)}); waiting for it to take over from its last checkpoint…");
        }
        else if (_lostFor.Elapsed > following.GiveUpAfter)
        {
            throw new InvalidOperationException(
                $"the coordinator of run {runId} has not answered for {following.GiveUpAfter.TotalMinutes:F0} minutes (last error: {FirstLine(e.Message)}). " +
                $"The run's record and checkpoint are kept in the cluster's storage; follow it later with: metacluster status --run {runId}", e);
        }
    }

    public void Restore()
    {
        if (_lostFor is null) return;
        following.Notice?.Invoke($"the coordinator of run {runId} answers again after {_lostFor.Elapsed.TotalSeconds:F1} s.");
        _lostFor = null;
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
