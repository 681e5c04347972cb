using MetaCluster.Grains.Hosting;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace MetaCluster.Grains.Placement;

/// <summary>
/// Coordinators prefer silos with coordinator=true (e.g. a coordinator-only silo that loses no compute to them and
/// is not the one a worker crash takes down); with no such silo, any silo will do.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class CoordinatorSiloPlacementFilterAttribute() : PlacementFilterAttribute(new CoordinatorSiloPlacementFilterStrategy());

public sealed class CoordinatorSiloPlacementFilterStrategy() : PlacementFilterStrategy(order: 0);

internal sealed class CoordinatorSiloPlacementFilterDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var all = silos.ToArray();
        var preferred = all.Where(silo => SiloMetadataKeys.IsTrue(metadata.GetSiloMetadata(silo).Metadata, SiloMetadataKeys.Coordinator)).ToArray();
        return preferred.Length > 0 ? preferred : all;
    }
}
