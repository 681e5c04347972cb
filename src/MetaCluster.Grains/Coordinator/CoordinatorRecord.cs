using MetaCluster.Contracts;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// The coordinator's persisted record of its run: enough to tell a later activation what the run was and where its
/// checkpoint lies. θ itself lives in the checkpoint file, not in grain storage.
/// </summary>
[GenerateSerializer, Alias("mc.CoordinatorRecord")]
public sealed class CoordinatorRecord
{
    [Id(0)] public string? ConfigJson { get; set; }
    [Id(1)] public string? CheckpointDirectory { get; set; }
    [Id(2)] public int MaxWorkers { get; set; }
    [Id(3)] public RunState State { get; set; }
    [Id(4)] public long Round { get; set; }
    [Id(5)] public string? Error { get; set; }
    [Id(6)] public long? CheckpointRound { get; set; }
}
