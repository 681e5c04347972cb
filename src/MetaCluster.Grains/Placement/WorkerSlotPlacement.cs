using MetaCluster.Contracts;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace MetaCluster.Grains.Placement;

/// <summary>
/// Places a worker slot on the silo its key names ("&lt;silo&gt;/&lt;slot&gt;"), so every slot the coordinator enumerates
/// is exactly one activation on its own silo — random placement would stack two slots on one silo and leave another idle.
/// A silo's hub ("&lt;silo&gt;/hub") goes to its silo the same way.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class WorkerSlotPlacement : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerSlotPlacementAttribute() : PlacementAttribute(new WorkerSlotPlacement());

internal sealed class WorkerSlotPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string key = target.GrainIdentity.Key.ToString()!;
        if (!WorkerKey.TryParseSilo(key, out string siloText))
            throw new ArgumentException($"worker grain key '{key}' is not '<silo>/<slot>' or '<silo>/hub'.");
        var silo = SiloAddress.FromParsableString(siloText);
        // Compatible silos are already narrowed to worker=true by the worker placement filter.
        var compatible = context.GetCompatibleSilos(target);
        if (!compatible.Contains(silo))
            throw new SiloUnavailableException($"worker slot '{key}' names silo {silo}, which is not an active worker silo.");
        return Task.FromResult(silo);
    }
}
