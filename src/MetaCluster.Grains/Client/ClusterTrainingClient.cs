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
/// <param name="PerSiloDispatch">θ once per worker silo, whose hub deals the share over its slots and sends one partial sum back.</param>
/// <param name="HubGroup">With per-silo dispatch: hubs in groups of this many, one hub of each answering the coordinator for its group (1 = none).</param>
public sealed record ClusterRunOptions(
    string? CheckpointDirectory = null, int MaxWorkers = 0, TimeSpan? WorkerDeadlineBase = null, TimeSpan? WorkerDeadlinePerEpisode = null,
    Checkpoint? ResumeFrom = null, bool PerEpisodeContributions = false, bool PerSiloDispatch = false, int HubGroup = 1);

/// <summary>Where a cluster run ended: its final status and θ.</summary>
public sealed record ClusterTrainingResult(RunStatus Status, ThetaSnapshot Theta);

/// <summary>A cluster run that failed; <see cref="Status"/> says where and why.</summary>
public sealed class ClusterTrainingException(RunStatus status) : Exception(status.Error ?? $"run '{status.RunId}' failed.")
{
    public RunStatus Status { get; } = status;
}

/// <summary>
/// What the CLI, the benchmarks and the tests call to train on a cluster (an embedded silo or a remote one): start a
/// run on its coordinator, follow it until it ends, fetch θ. Works with any IGrainFactory — a silo's, or an IClusterClient.
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
            ResumeCheckpoint = options.ResumeFrom?.ToBytes(), PerEpisodeContributions = options.PerEpisodeContributions, PerSiloDispatch = options.PerSiloDispatch,
            HubGroup = options.HubGroup,
        });
    }

    public Task<RunStatus> GetStatusAsync(string runId) => Coordinator(runId).GetStatus();
    public Task<RunStatus> PauseAsync(string runId) => Coordinator(runId).Pause();
    public Task<RunStatus> ResumeAsync(string runId) => Coordinator(runId).Resume();
    public Task<RunStatus> CancelAsync(string runId) => Coordinator(runId).Cancel();
    public Task<RoundMetrics[]> GetRoundsAsync(string runId, long fromRound) => Coordinator(runId).GetRounds(fromRound);

    /// <summary>
    /// Follows a run until it has completed, failed or been cancelled — the one start → poll → θ loop, used by
    /// <c>metacluster train</c>, the benchmarks and the tests alike. Polls status (and, for
    /// <see cref="RunFollowing.OnProgress"/>, the rounds completed since the last poll), cancels the run once when
    /// <see cref="RunFollowing.Stop"/> fires, and rides out a coordinator takeover: while the coordinator's silo is
    /// being declared dead calls fail, and the next one activates it elsewhere, resuming from its checkpoint.
    /// <paramref name="cancellationToken"/> abandons following (the run goes on).
    /// </summary>
    public async Task<RunStatus> FollowAsync(string runId, long fromRound = 0, RunFollowing? following = null, CancellationToken cancellationToken = default)
    {
        following ??= new RunFollowing();
        var contact = new CoordinatorContact(runId, following);
        long next = fromRound;
        bool cancelSent = false;
        var stall = new StallWatch(runId, following.StallTimeout);
        while (true)
        {
            RunStatus status;
            RoundMetrics[] rounds = [];
            try
            {
                if (!cancelSent && following.Stop.IsCancellationRequested)
                {
                    await CancelAsync(runId);
                    cancelSent = true;
                }
                // Status first, rounds second: once the status says finished, the rounds fetched after it are all there are.
                status = await GetStatusAsync(runId);
                if (following.OnProgress is not null) rounds = await GetRoundsAsync(runId, next);
                contact.Restore();
            }
            catch (Exception e) when (CoordinatorContact.IsTransient(e))
            {
                stall.Check(null, e);
                contact.Lost(e);
                await Task.Delay(CoordinatorContact.RetryInterval, cancellationToken);
                continue;
            }
            // A coordinator that took over recomputes rounds already seen: they carry numbers below next and are skipped.
            rounds = rounds.Where(r => r.Round >= next).ToArray();
            if (rounds.Length > 0) next = rounds[^1].Round + 1;
            following.OnProgress?.Invoke(status, rounds);
            if (status.IsFinished) return status;
            stall.Check(status, null);
            await Task.Delay(following.PollInterval, cancellationToken);
        }
    }

    /// <summary>
    /// Start → follow → θ. A failed run throws <see cref="ClusterTrainingException"/> with the coordinator's error; a
    /// run stopped through <see cref="RunFollowing.Stop"/> (or cancelled from elsewhere) returns what it had reached.
    /// </summary>
    public async Task<ClusterTrainingResult> TrainAsync(string runId, TrainingConfig config, ClusterRunOptions? options = null,
        RunFollowing? following = null, CancellationToken cancellationToken = default)
    {
        var started = await StartAsync(runId, config, options);
        var status = await FollowAsync(runId, started.Round, following, cancellationToken);
        if (status.State == RunState.Failed) throw new ClusterTrainingException(status);
        var theta = await Coordinator(runId).GetTheta() ?? throw new InvalidOperationException($"run '{runId}' ended without θ.");
        return new ClusterTrainingResult(status, theta);
    }
}
