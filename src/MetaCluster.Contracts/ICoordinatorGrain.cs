namespace MetaCluster.Contracts;

/// <summary>
/// Owns one training run (keyed by run id): deals each round's episodes to the live workers, re-deals those of a
/// failed or late worker, aggregates in episode order and checkpoints. Commands return the status after them.
/// </summary>
[Alias("mc.ICoordinatorGrain")]
public interface ICoordinatorGrain : IGrainWithStringKey
{
    /// <summary>Validates the run (config, model size against the message limit) and starts it in the background.</summary>
    [Alias("Start")]
    Task<RunStatus> Start(StartRunRequest request);

    /// <remarks>Polled: a short timeout, so a client whose gateway froze tries another within seconds, not 30 s.</remarks>
    [Alias("GetStatus"), ResponseTimeout("00:00:05")]
    Task<RunStatus> GetStatus();

    /// <summary>Stops after the round in flight; <see cref="Resume"/> goes on from there.</summary>
    [Alias("Pause")]
    Task<RunStatus> Pause();

    [Alias("Resume")]
    Task<RunStatus> Resume();

    /// <summary>Stops after the round in flight and writes a final checkpoint (when checkpointing).</summary>
    [Alias("Cancel")]
    Task<RunStatus> Cancel();

    /// <summary>θ after the last completed round, or null before the run has started.</summary>
    [Alias("GetTheta")]
    Task<ThetaSnapshot?> GetTheta();

    /// <summary>
    /// The completed rounds numbered <paramref name="fromRound"/> or later, oldest first, from a window of the most
    /// recent ones (the coordinator keeps the last <c>1000</c>): a client polling now and then sees every round's metrics.
    /// </summary>
    [Alias("GetRounds"), ResponseTimeout("00:00:05")]
    Task<RoundMetrics[]> GetRounds(long fromRound);

    /// <summary>
    /// The run's TrainingConfig as JSON, for a worker that meets the run (or a new config version of it) for the first
    /// time; fails when no run was started here.
    /// </summary>
    [Alias("GetConfigJson")]
    Task<string> GetConfigJson();

    /// <summary>The bytes of the last checkpoint file written, or null when none was.</summary>
    [Alias("GetLatestCheckpoint")]
    Task<byte[]?> GetLatestCheckpoint();
}
