using System.Diagnostics;
using MetaCluster.Contracts;

namespace MetaCluster.Grains;

/// <summary>
/// Gives up following a run that has completed no round for the stall timeout — whatever the cause (the coordinator
/// unreachable, every silo stuck on a lost membership table, no worker left) — with one error naming the run, the
/// last round seen and what to check. A paused run is not stalled.
/// </summary>
internal sealed class StallWatch(string runId, TimeSpan timeout)
{
    private readonly Stopwatch _since = Stopwatch.StartNew();
    private RunStatus? _last;
    private string? _lastError;

    /// <summary>After every poll: the status it read, or the error it got instead.</summary>
    public void Check(RunStatus? status, Exception? error)
    {
        if (status is not null)
        {
            if (_last is null || status.Round != _last.Round || status.State != _last.State || status.State == RunState.Paused) _since.Restart();
            (_last, _lastError) = (status, null);
        }
        else if (error is not null) _lastError = $"{error.GetType().Name}: {error.Message.Split('\n')[0].Trim()}";
        if (_since.Elapsed < timeout) return;
        string where = _last is null ? "before its coordinator answered" : $"at round {_last.Round}/{_last.TotalRounds} (checkpoint {_last.CheckpointRound?.ToString() ?? "none"}, {_last.LiveWorkers} live workers)";
        string last = _lastError is null ? $"the coordinator answers, state {_last?.State.ToString().ToLowerInvariant() ?? "unknown"}" : $"last error: {_lastError}";
        throw new RunStalledException(
            $"run {runId} made no progress for {_since.Elapsed.TotalSeconds:F0} s, stuck {where}; {last}. Check that Redis and the coordinator and worker " +
            $"servers are up and joined (their logs, /readyz), then follow it again with: metacluster status --run {runId}");
    }
}
