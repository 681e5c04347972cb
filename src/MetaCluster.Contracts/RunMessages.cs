namespace MetaCluster.Contracts;

/// <summary>
/// Starts a run. The TrainingConfig travels as JSON rather than as a mirrored message type: a field added to the
/// config in Core then reaches every worker instead of being silently dropped on the wire.
/// </summary>
[GenerateSerializer, Immutable, Alias("mc.StartRunRequest")]
public sealed class StartRunRequest
{
    [Id(0)] public required string ConfigJson { get; init; }
    /// <summary>Where checkpoint.mcc is written every CheckpointEvery rounds and at the end; null = no file.</summary>
    [Id(1)] public string? CheckpointDirectory { get; init; }
    /// <summary>Use at most this many worker slots (0 = all live ones).</summary>
    [Id(2)] public int MaxWorkers { get; init; }
    /// <summary>Overrides the silo's worker call deadline (Base + PerEpisode × episodes) for this run; null = the silo's.</summary>
    [Id(3)] public TimeSpan? WorkerDeadlineBase { get; init; }
    [Id(4)] public TimeSpan? WorkerDeadlinePerEpisode { get; init; }
    /// <summary>
    /// A checkpoint file's bytes to continue from (θ, optimizer state, round); null = start afresh. ConfigJson is the
    /// config to continue with (the checkpoint's, with at most the iterations or threads changed).
    /// </summary>
    [Id(5)] public byte[]? ResumeCheckpoint { get; init; }
    /// <summary>
    /// Workers send a vector per episode instead of one exact partial sum per share (more bytes, same θ bits): for
    /// looking at single contributions, or comparing the two.
    /// </summary>
    [Id(6)] public bool PerEpisodeContributions { get; init; }
    /// <summary>
    /// θ goes once to each worker silo, whose hub deals the share over its slots and answers with one exact partial
    /// sum (<see cref="ISiloHubGrain"/>): bytes on the wire per silo, not per slot (same θ bits). Not with MaxWorkers.
    /// </summary>
    [Id(7)] public bool PerSiloDispatch { get; init; }
    /// <summary>
    /// With <see cref="PerSiloDispatch"/>: hubs in groups of this many (an aggregation tree's second level). The
    /// coordinator sends θ to one hub of each group, which deals part of its share to the group's other hubs and adds
    /// their partial sums into its own: the coordinator moves bytes for one hub a group. 0 or 1 = every hub answers the
    /// coordinator (same θ bits either way).
    /// </summary>
    [Id(8)] public int HubGroup { get; init; }
}

[GenerateSerializer, Alias("mc.RunState")]
public enum RunState
{
    NotStarted,
    Running,
    Paused,
    Completed,
    Cancelled,
    Failed,
}

/// <summary>Progress of a run, as the CLI shows it.</summary>
[GenerateSerializer, Immutable, Alias("mc.RunStatus")]
public sealed class RunStatus
{
    [Id(0)] public required string RunId { get; init; }
    [Id(1)] public RunState State { get; init; }
    /// <summary>Rounds completed.</summary>
    [Id(2)] public long Round { get; init; }
    [Id(3)] public long TotalRounds { get; init; }
    /// <summary>Mean post-adaptation query loss of the last round.</summary>
    [Id(4)] public double? MetaLoss { get; init; }
    [Id(5)] public double? PreAdaptationLoss { get; init; }
    [Id(6)] public double? Accuracy { get; init; }
    [Id(7)] public double EpisodesPerSecond { get; init; }
    [Id(8)] public int LiveWorkers { get; init; }
    /// <summary>Episodes handed to another worker because theirs died or missed the deadline (whole run).</summary>
    [Id(9)] public long Redispatched { get; init; }
    /// <summary>Episodes retried after a worker reported an error computing them (whole run).</summary>
    [Id(10)] public long Retried { get; init; }
    [Id(11)] public string? Error { get; init; }
    [Id(12)] public long? CheckpointRound { get; init; }
    [Id(13)] public string? CheckpointPath { get; init; }
    /// <summary>Silos that computed at least one episode of the last round.</summary>
    [Id(14)] public string[] ContributingSilos { get; init; } = [];
    /// <summary>How often a new coordinator activation took the run over from its persisted record (its process died).</summary>
    [Id(15)] public int Recoveries { get; init; }
    /// <summary>The round in flight lost every worker (or had none) and waits for one to join; <see cref="LiveWorkers"/> is then 0.</summary>
    [Id(16)] public bool WaitingForWorkers { get; init; }

    public bool IsFinished => State is RunState.Completed or RunState.Cancelled or RunState.Failed;
}

/// <summary>θ as raw float32 bytes after <see cref="Round"/> completed rounds.</summary>
[GenerateSerializer, Immutable, Alias("mc.ThetaSnapshot")]
public sealed class ThetaSnapshot
{
    [Id(0)] public required long Round { get; init; }
    [Id(1)] public required byte[] Values { get; init; }
    [Id(2)] public required string Sha256 { get; init; }
}

/// <summary>What one completed round did (Core's RoundReport on the wire), for progress and end-of-run figures.</summary>
[GenerateSerializer, Immutable, Alias("mc.RoundMetrics")]
public sealed class RoundMetrics
{
    [Id(0)] public long Round { get; init; }
    [Id(1)] public int Episodes { get; init; }
    [Id(2)] public double Seconds { get; init; }
    [Id(3)] public double LearningRate { get; init; }
    [Id(4)] public double? PreLoss { get; init; }
    [Id(5)] public double PostLoss { get; init; }
    [Id(6)] public double? PreAccuracy { get; init; }
    [Id(7)] public double? PostAccuracy { get; init; }
    /// <summary>Bytes of contributions the coordinator received for the round: partial sums' wire forms and per-episode vectors.</summary>
    [Id(8)] public long ContributionBytes { get; init; }
    /// <summary>
    /// The call whose reply completed the round: seconds from sending it to its reply (null where no call was made, as
    /// in-process). With <see cref="DispatchSeconds"/> and <see cref="LastWorkerSeconds"/>, a round splits into the
    /// coordinator's own time (<see cref="Seconds"/> less the dispatch), the wait before that call was sent (the dispatch
    /// less this: earlier shares of its worker, a redispatch), the wire and queues (this less the worker's) and the worker's.
    /// </summary>
    [Id(9)] public double? LastCallSeconds { get; init; }
    /// <summary>Of <see cref="LastCallSeconds"/>, the seconds the callee reported inside itself.</summary>
    [Id(10)] public double? LastWorkerSeconds { get; init; }
    /// <summary>Seconds from the round's first call to its last reply (null where no call was made).</summary>
    [Id(11)] public double? DispatchSeconds { get; init; }

    /// <summary>
    /// The round's seconds in four parts — the coordinator's own, waiting before the last call was sent, that call
    /// outside its callee, inside it — or null where no call was timed. The one definition the bench and the metrics use.
    /// </summary>
    public RoundParts? Parts() => (DispatchSeconds, LastCallSeconds, LastWorkerSeconds) is (double dispatch, double call, double worker)
        ? new RoundParts(Math.Max(0, Seconds - dispatch), Math.Max(0, dispatch - call), Math.Max(0, call - worker), worker)
        : null;
}

/// <summary>A round's seconds by part (<see cref="RoundMetrics.Parts"/>).</summary>
public sealed record RoundParts(double Coordinator, double Waiting, double Outside, double Worker);
