using MetaCluster.Contracts;
using MetaCluster.Grains.Hosting;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// The coordinator's run state — the one copy, kept in memory and written as it is — and its persisted record (grain storage: Redis on a server cluster): the request that started
/// it and its latest checkpoint (θ, optimizer state, round). A new activation — after the process hosting the old one
/// died — rebuilds the run from this record alone and goes on from <see cref="Checkpoint"/>, so at most the rounds
/// since that checkpoint are recomputed, and θ ends bit-identical to an uninterrupted run.
/// </summary>
[GenerateSerializer, Alias("mc.CoordinatorRecord")]
public sealed class CoordinatorRecord
{
    [Id(0)] public string? ConfigJson { get; set; }
    [Id(1)] public string? CheckpointDirectory { get; set; }
    [Id(2)] public int MaxWorkers { get; set; }
    [Id(3)] public RunState State { get; set; }
    /// <summary>Rounds completed when the record was written.</summary>
    [Id(4)] public long Round { get; set; }
    [Id(5)] public string? Error { get; set; }
    /// <summary>The round of <see cref="Checkpoint"/> (null while the run still restarts from its initial θ).</summary>
    [Id(6)] public long? CheckpointRound { get; set; }
    /// <summary>Checkpoint file bytes the run resumes from; null = from the initial θ of its seed (round 0).</summary>
    [Id(7)] public byte[]? Checkpoint { get; set; }
    [Id(8)] public string? CheckpointPath { get; set; }
    [Id(9)] public TimeSpan WorkerDeadlineBase { get; set; }
    [Id(10)] public TimeSpan WorkerDeadlinePerEpisode { get; set; }
    [Id(11)] public FaultCounters Faults { get; set; } = new();
    /// <summary>How many times an activation took the run over from this record.</summary>
    [Id(13)] public int Recoveries { get; set; }
    [Id(14)] public bool PauseRequested { get; set; }
    [Id(15)] public bool PerEpisodeContributions { get; set; }
    /// <summary>θ once per worker silo through its hub, one partial sum back per silo (<see cref="StartRunRequest.PerSiloDispatch"/>).</summary>
    [Id(16)] public bool PerSiloDispatch { get; set; }
    /// <summary>Hubs a group (<see cref="StartRunRequest.HubGroup"/>); 1 = none.</summary>
    [Id(17)] public int HubGroup { get; set; } = 1;

    public bool IsLive => State is RunState.Running or RunState.Paused;

    /// <summary>
    /// What clients see: this record with what the coordinator remembers of the last rounds, and the live workers of
    /// the round in flight where there is one (<paramref name="cluster"/>).
    /// </summary>
    internal RunStatus ToStatus(string runId, long totalRounds, RoundWindow window, ClusterContributions? cluster = null) => new()
    {
        RunId = runId, State = State, Round = Round, TotalRounds = totalRounds,
        MetaLoss = window.Last?.PostLoss, PreAdaptationLoss = window.Last?.PreLoss, Accuracy = window.Last?.PostAccuracy,
        EpisodesPerSecond = window.Last is { Seconds: > 0 } l ? l.Episodes / l.Seconds : 0,
        LiveWorkers = cluster?.LiveWorkersNow ?? window.LiveWorkers, WaitingForWorkers = IsLive && cluster is { WaitingForWorkers: true }, Redispatched = Faults.Redispatched, Retried = Faults.Retried, Error = Error,
        CheckpointRound = CheckpointRound, CheckpointPath = CheckpointPath, ContributingSilos = window.Silos, Recoveries = Recoveries,
    };

    /// <summary>The record of a run that <paramref name="request"/> starts; throws <see cref="ArgumentException"/> for a bad request.</summary>
    public static CoordinatorRecord Started(StartRunRequest request, MetaClusterSiloOptions options)
    {
        var deadlineBase = request.WorkerDeadlineBase ?? options.WorkerDeadlineBase;
        var deadlinePerEpisode = request.WorkerDeadlinePerEpisode ?? options.WorkerDeadlinePerEpisode;
        if (deadlineBase <= TimeSpan.Zero || deadlinePerEpisode < TimeSpan.Zero)
            throw new ArgumentException($"worker deadlines must be positive (got {deadlineBase} + {deadlinePerEpisode} per episode).");
        if (request.MaxWorkers < 0) throw new ArgumentException($"max workers is 0 (all) or more (got {request.MaxWorkers}).");
        if (request.PerSiloDispatch && request.MaxWorkers > 0)
            throw new ArgumentException($"per-silo dispatch uses every slot of every worker silo; it cannot be capped at {request.MaxWorkers} workers (drop one of the two).");
        if (request.HubGroup < 0) throw new ArgumentException($"hubs a group is 1 or more (got {request.HubGroup}).");
        if (request.HubGroup > 1 && !request.PerSiloDispatch)
            throw new ArgumentException($"hub groups ({request.HubGroup} hubs a group) are a level of per-silo dispatch: turn per-silo dispatch on too.");
        return new CoordinatorRecord
        {
            ConfigJson = request.ConfigJson, CheckpointDirectory = options.LocalizeCheckpoints(request.CheckpointDirectory),
            MaxWorkers = request.MaxWorkers, WorkerDeadlineBase = deadlineBase, WorkerDeadlinePerEpisode = deadlinePerEpisode,
            PerEpisodeContributions = request.PerEpisodeContributions, PerSiloDispatch = request.PerSiloDispatch,
            HubGroup = Math.Max(1, request.HubGroup), State = RunState.Running,
            // A resumed run's starting point is its first recovery point too.
            Checkpoint = request.ResumeCheckpoint,
        };
    }
}
