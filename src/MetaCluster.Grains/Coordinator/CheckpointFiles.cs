using MetaCluster.Core.Training;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// A run's checkpoint file on the coordinator's disk: a copy for people and tools. The recovery point is the
/// checkpoint in the persisted record, so a file that cannot be written (directory read-only, disk full, the path
/// taken by a directory) is a warning and a metric, never the end of the run.
/// </summary>
internal static class CheckpointFiles
{
    /// <summary>Writes the checkpoint file; false (logged) when it could not be written.</summary>
    public static async Task<bool> TryWrite(string path, byte[] bytes, string runId, long round, ILogger logger)
    {
        try
        {
            await Task.Run(() => Checkpoint.WriteFile(path, bytes));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Run {RunId}: could not write the round-{Round} checkpoint file {Path} ({Error}: {Message}); the run goes on, " +
                "its checkpoint is held in the coordinator's persisted record.", runId, round, path, e.GetType().Name, e.Message);
            return false;
        }
    }

    /// <summary>At the start of a writer for the directory: removes the temporaries of writers killed mid-write (see <see cref="Checkpoint.RemoveStaleTemporaries"/>).</summary>
    public static void RemoveStaleTemporaries(string? directory, string runId, ILogger logger)
    {
        if (directory is null) return;
        try
        {
            foreach (string path in Checkpoint.RemoveStaleTemporaries(directory))
                logger.LogInformation("Run {RunId}: removed {Path}, the temporary of a checkpoint write that never finished.", runId, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Run {RunId}: could not look for stale checkpoint temporaries in {Directory}: {Message}", runId, directory, e.Message);
        }
    }
}
