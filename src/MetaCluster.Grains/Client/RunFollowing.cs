using MetaCluster.Contracts;

namespace MetaCluster.Grains;

/// <summary>How a client follows a run on the cluster (<see cref="ClusterTrainingClient.FollowAsync"/>).</summary>
public sealed record RunFollowing
{
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// After every poll: the status, and the rounds completed since the last call, oldest first — each round once,
    /// even when a coordinator that took the run over recomputes rounds already seen.
    /// </summary>
    public Action<RunStatus, IReadOnlyList<RoundMetrics>>? OnProgress { get; init; }

    /// <summary>
    /// When it fires (Ctrl+C, a time limit) the run is cancelled on the cluster: the coordinator finishes the round in
    /// flight and writes its checkpoint, and following goes on until the run has ended.
    /// </summary>
    public CancellationToken Stop { get; init; }

    /// <summary>Told when the coordinator stops answering (its silo died) and when it answers again; null = silent.</summary>
    public Action<string>? Notice { get; init; }

    /// <summary>How long a coordinator may stay unreachable before following gives up.</summary>
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// How long a running run may go without completing a round — the coordinator unreachable, no worker computing,
    /// storage lost — before following gives up with <see cref="RunStalledException"/> (a paused run is not stalled).
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = DefaultStallTimeout;

    public static readonly TimeSpan DefaultStallTimeout = TimeSpan.FromMinutes(3);
}

/// <summary>A run that made no progress for <see cref="RunFollowing.StallTimeout"/>: following gave up; the run may still be on the cluster.</summary>
public sealed class RunStalledException(string message, Exception? inner = null) : Exception(message, inner);
