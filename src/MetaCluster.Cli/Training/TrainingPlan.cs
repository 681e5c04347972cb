using MetaCluster.Cli.Output;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Training;

/// <summary>What <c>train</c> asks of an engine: the config, where to checkpoint, when to stop, how to show progress.</summary>
public sealed record TrainingPlan(TrainingConfig Config, Checkpoint? Resume, string CheckpointPath, TimeSpan TimeLimit, bool Live)
{
    /// <summary>On a cluster: give up (exit 2) after this long without a completed round.</summary>
    public TimeSpan StallTimeout { get; init; } = Grains.RunFollowing.DefaultStallTimeout;

    public string Title => $"train {Config.Dataset}/{Config.Algorithm}";
    public string CheckpointDirectory => Path.GetDirectoryName(CheckpointPath)!;
}

/// <summary>Where an engine left the run: θ after <see cref="Round"/> rounds, the figures, and how it ended.</summary>
/// <param name="Interrupted">Stopped before the end by Ctrl+C/SIGTERM (or, on a cluster, a cancel from elsewhere).</param>
/// <param name="EnginePath">"cluster" or "in-process".</param>
public sealed record TrainingOutcome(
    ParameterSet Theta, long Round, bool Interrupted, TrainingStats Stats, string EnginePath, string? RunId = null, int? Workers = null, long? Redispatched = null)
{
    public const string Cluster = "cluster", InProcess = "in-process";

    /// <summary>The whole run's training seconds as its last checkpoint records them (<see cref="Checkpoint.TrainingSeconds"/>).</summary>
    public double? TrainingSeconds { get; init; }
}
