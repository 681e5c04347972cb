namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Run-wide fault counters, updated as they happen so status shows them mid-round and after a failed round. Part of
/// the coordinator's persisted record, so a run taken over by another activation keeps counting from there.
/// </summary>
[GenerateSerializer, Alias("mc.FaultCounters")]
public sealed class FaultCounters
{
    /// <summary>Episodes handed to another worker because theirs died, missed its deadline or lost them.</summary>
    [Id(0)] public long Redispatched { get; set; }

    /// <summary>Episodes retried after a worker reported an error computing them.</summary>
    [Id(1)] public long Retried { get; set; }
}
