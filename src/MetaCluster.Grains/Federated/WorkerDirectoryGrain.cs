using MetaCluster.Contracts;
using MetaCluster.Grains.Coordinator;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MetaCluster.Grains.Federated;

/// <summary>The coordinator's view of the live worker slots (<see cref="WorkerDirectory"/>), for a cluster client.</summary>
[StatelessWorker]
public sealed class WorkerDirectoryGrain(IClusterMembershipService membership, ISiloMetadataCache metadata) : Grain, IWorkerDirectoryGrain
{
    private readonly WorkerDirectory _directory = new(membership, metadata);

    public async Task<string[]> Slots(int maxWorkers, TimeSpan timeout) =>
        [.. await _directory.WaitForSlots(maxWorkers, timeout, new HashSet<string>())];
}
