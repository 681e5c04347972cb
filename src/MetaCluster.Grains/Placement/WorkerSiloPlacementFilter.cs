using MetaCluster.Grains.Hosting;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace MetaCluster.Grains.Placement;

/// <summary>Only silos whose metadata says worker=true may host the grain.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerSiloPlacementFilterAttribute() : PlacementFilterAttribute(new WorkerSiloPlacementFilterStrategy());

public sealed class WorkerSiloPlacementFilterStrategy() : PlacementFilterStrategy(order: 0);

internal sealed class WorkerSiloPlacementFilterDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos) =>
        silos.Where(silo => SiloMetadataKeys.IsTrue(metadata.GetSiloMetadata(silo).Metadata, SiloMetadataKeys.Worker));
}
