using Microsoft.Extensions.Options;
using Orleans.Runtime;
using TorchSharp;

namespace MetaCluster.Grains.Hosting;

/// <summary>
/// Sets libtorch's intra-op thread count once, when the silo starts: torch.set_num_threads is process-wide, so a grain
/// setting it per call would race with every other slot in the process.
/// </summary>
internal sealed class TorchThreadBudget(IOptions<MetaClusterSiloOptions> options) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(TorchThreadBudget), ServiceLifecycleStage.RuntimeInitialize, _ =>
        {
            if (options.Value.TorchThreads > 0) torch.set_num_threads(options.Value.TorchThreads);
            return Task.CompletedTask;
        });
}
