namespace MetaCluster.Contracts;

/// <summary>
/// One worker slot simulating federated clients: keyed like <see cref="ITaskWorkerGrain"/> ("&lt;silo&gt;/&lt;slot&gt;",
/// <see cref="WorkerKey"/>) and placed the same way, each slot computing many clients' updates with the same client
/// trainer a real client process runs.
/// </summary>
[Alias("mc.IFederatedWorkerGrain")]
public interface IFederatedWorkerGrain : IGrainWithStringKey
{
    /// <summary>Lifts Orleans' 30 s default: a share of Conv4 clients takes minutes on a loaded CPU; the round's deadline is the run's.</summary>
    [ResponseTimeout("01:00:00")]
    [Alias("ComputeClients")]
    Task<FederatedWorkResult> ComputeClients(FederatedWorkRequest request);
}

/// <summary>
/// The live worker slots, for a process outside the silos (the CLI's federated simulation as a cluster client) that
/// deals work to slots itself. Stateless: any silo answers from its own membership view.
/// </summary>
[Alias("mc.IWorkerDirectoryGrain")]
public interface IWorkerDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>The slot keys, slot-major (spread over silos first), at most <paramref name="maxWorkers"/> (0 = all); waits up to <paramref name="timeout"/> for a first one.</summary>
    [Alias("Slots")]
    Task<string[]> Slots(int maxWorkers, TimeSpan timeout);
}
