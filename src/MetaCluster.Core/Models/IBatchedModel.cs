using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// A model that can run T tasks at once, each with its own parameters: inputs [T, n, …] and parameters stacked
/// along a leading task dimension ([T, …each parameter's shape]). Task t's outputs depend only on slice t, so the
/// gradient of a sum of per-task losses with respect to slice t is exactly task t's gradient. Body and head are
/// separate, as in <see cref="IFunctionalModel"/>, so ANIL can step the head alone on features computed once.
/// </summary>
public interface IBatchedModel : IFunctionalModel
{
    /// <summary>
    /// The most tasks computed in one pass; more are split into passes of this size. A constant of the model (never
    /// the worker's share), chosen by measurement: past some size a pass only adds memory traffic.
    /// </summary>
    int TasksPerPass { get; }

    /// <summary>
    /// What <c>--batching auto</c> picks for this model: true where task batching measured faster than one episode at
    /// a time (docs/benchmarks.md). A property of the model alone, never of the worker's share, so every worker count
    /// runs the same kernels.
    /// </summary>
    bool AutoBatches { get; }

    /// <summary>Features of each task's batch, [T, n, features], from the stacked body parameters.</summary>
    Tensor EmbedBatched(Tensor x, IReadOnlyList<Tensor> body);

    /// <summary>Outputs [T, n, out] from features [T, n, features], using the stacked head parameters.</summary>
    Tensor HeadBatched(Tensor features, IReadOnlyList<Tensor> head);
}

public static class BatchedModelExtensions
{
    public static Tensor ForwardBatched(this IBatchedModel model, Tensor x, IReadOnlyList<Tensor> parameters) =>
        model.HeadBatched(model.EmbedBatched(x, model.Body(parameters)), model.HeadOf(parameters));

    /// <summary>x·Wᵀ + b per task as one batched matmul: features [T, n, in], weight [T, out, in], bias [T, out].</summary>
    public static Tensor LinearBatched(Tensor features, Tensor weight, Tensor bias) =>
        HeldScalars.Plus(features.bmm(weight.transpose(1, 2)), bias.unsqueeze(1));
}
