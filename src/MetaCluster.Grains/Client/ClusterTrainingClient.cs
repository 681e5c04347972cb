using MetaCluster.Contracts;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains;

/// <summary>How a run uses the cluster (not what it trains: that is the TrainingConfig).</summary>
/// <param name="CheckpointDirectory">Where checkpoint.mcc is written every CheckpointEvery rounds and at the end; null = none.</param>
/// <param name="MaxWorkers">Use at most this many worker slots; 0 = every live one.</param>
/// <param name="WorkerDeadlineBase">Overrides the silo's per-call deadline base; null = the silo's.</param>
/// <param name="WorkerDeadlinePerEpisode">Overrides the silo's per-episode deadline allowance; null = the silo's.</param>
/// <param name="ResumeFrom">Continue from this checkpoint (θ, optimizer state, round) instead of starting afresh.</param>
/// <param name="PerEpisodeContributions">Workers send a vector per episode instead of one exact partial sum per share.</param>
public sealed record ClusterRunOptions(
    string? CheckpointDirectory = null, int MaxWorkers = 0, TimeSpan? WorkerDeadlineBase = null, TimeSpan? WorkerDeadlinePerEpisode = null,
    Checkpoint? ResumeFrom = null, bool PerEpisodeContributions = false);

/// <summary>Where a cluster run ended: its final status and θ.</summary>
public sealed record ClusterTrainingResult(RunStatus Status, ThetaSnapshot Theta);

/// <summary>A cluster run that failed; <see cref="Status"/> says where and why.</summary>
public sealed class ClusterTrainingException(RunStatus status) : Exception(status.Error ?? $"run '{status.RunId}' failed.")
{
    public RunStatus Status { get; } = status;
}

/// <summary>
/// What the CLI calls to train on a cluster (its embedded silo or a remote one): start a run on its coordinator,
/// poll its status until it ends, fetch θ. Works with any IGrainFactory — a silo's, or an IClusterClient.
/// </summary>
public sealed class ClusterTrainingClient(IGrainFactory grains)
{
    public ICoordinatorGrain Coordinator(string runId) => grains.GetGrain<ICoordinatorGrain>(runId);

    public Task<RunStatus> StartAsync(string runId, TrainingConfig config, ClusterRunOptions? options = null)
    {
        options ??= new ClusterRunOptions();
        return Coordinator(runId).Start(new StartRunRequest
        {
            ConfigJson = ConfigJson.Write(config), CheckpointDirectory = options.CheckpointDirectory, MaxWorkers = options.MaxWorkers,
            WorkerDeadlineBase = options.WorkerDeadlineBase, WorkerDeadlinePerEpisode = options.WorkerDeadlinePerEpisode,
            ResumeCheckpoint = options.ResumeFrom?.ToBytes(), PerEpisodeContributions = options.PerEpisodeContributions,
        });
    }

    public Task<RunStatus> GetStatusAsync(string runId) => Coordinator(runId).GetStatus();
    public Task<RunStatus> PauseAsync(string runId) => Coordinator(runId).Pause();
    public Task<RunStatus> ResumeAsync(string runId) => Coordinator(runId).Resume();
    public Task<RunStatus> CancelAsync(string runId) => Coordinator(runId).Cancel();
    public Task<RoundMetrics[]> GetRoundsAsync(string runId, long fromRound) => Coordinator(runId).GetRounds(fromRound);

    /// <summary>Polls until the run has completed, failed or been cancelled; reports every status it sees.</summary>
    public async Task<RunStatus> WaitAsync(string runId, IProgress<RunStatus>? progress = null, TimeSpan? pollInterval = null,
        CancellationToken cancellationToken = default)
    {
        var interval = pollInterval ?? TimeSpan.FromMilliseconds(500);
        while (true)
        {
            var status = await GetStatusAsync(runId);
            progress?.Report(status);
            if (status.IsFinished) return status;
            await Task.Delay(interval, cancellationToken);
        }
    }

    /// <summary>
    /// Start → poll → θ. If <paramref name="cancellationToken"/> fires (Ctrl-C), the run is cancelled on the cluster
    /// (it stops after the round in flight and writes its checkpoint) and the result is what it had reached.
    /// A failed run throws <see cref="ClusterTrainingException"/> with the coordinator's error.
    /// </summary>
    public async Task<ClusterTrainingResult> TrainAsync(string runId, TrainingConfig config, ClusterRunOptions? options = null,
        IProgress<RunStatus>? progress = null, TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        await StartAsync(runId, config, options);
        RunStatus status;
        try
        {
            status = await WaitAsync(runId, progress, pollInterval, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await CancelAsync(runId);
            status = await WaitAsync(runId, progress, pollInterval, CancellationToken.None);
        }
        if (status.State == RunState.Failed) throw new ClusterTrainingException(status);
        var theta = await Coordinator(runId).GetTheta() ?? throw new InvalidOperationException($"run '{runId}' ended without θ.");
        return new ClusterTrainingResult(status, theta);
    }
}
