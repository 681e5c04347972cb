using Microsoft.Extensions.Options;
using Orleans.Runtime;
using TorchSharp;

namespace MetaCluster.Grains.Hosting;

/// <summary>
/// Sets libtorch's intra-op thread count once, when the silo starts: torch.set_num_threads is process-wide, so a grain
/// setting it per call would race with every other slot in the process. A worker silo on a GPU also initialises CUDA
/// here (with its reproducibility settings), before any slot computes: no GPU fails the silo's start, not a round.
/// </summary>
internal sealed class TorchThreadBudget(IOptions<MetaClusterSiloOptions> options) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(TorchThreadBudget), ServiceLifecycleStage.RuntimeInitialize, _ =>
        {
            if (options.Value.Worker) Core.Runtime.TorchRuntime.EnsureLoaded(options.Value.Device);
            if (options.Value.TorchThreads > 0) torch.set_num_threads(options.Value.TorchThreads);
            return Task.CompletedTask;
        });
}
