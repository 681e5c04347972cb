using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// A model that can run T tasks at once, each with its own parameters: inputs [T, n, …] and parameters stacked
/// along a leading task dimension ([T, …each parameter's shape]). Task t's outputs depend only on slice t, so the
/// gradient of a sum of per-task losses with respect to slice t is exactly task t's gradient.
/// </summary>
public interface IBatchedModel : IFunctionalModel
{
    Tensor ForwardBatched(Tensor x, IReadOnlyList<Tensor> parameters);
}
