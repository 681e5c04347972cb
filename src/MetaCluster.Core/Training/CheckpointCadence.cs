namespace MetaCluster.Core.Training;

/// <summary>
/// When a run writes its recovery point: every <see cref="TrainingConfig.CheckpointEvery"/> completed rounds, and
/// after the last round. CheckpointEvery 0 means "only at the end" — no mid-run checkpoints (and no division by it).
/// A host that stops early (cancel, time limit, Ctrl+C) also writes one where it stops.
/// </summary>
public static class CheckpointCadence
{
    public static bool IsDue(long roundsCompleted, TrainingConfig config) =>
        roundsCompleted >= config.Iterations || (config.CheckpointEvery > 0 && roundsCompleted % config.CheckpointEvery == 0);
}
