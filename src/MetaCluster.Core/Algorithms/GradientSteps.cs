using TorchSharp;
using MetaCluster.Core.Episodes;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>Differentiable SGD steps on a task loss, the building block of MAML, Meta-SGD and ANIL.</summary>
internal static class GradientSteps
{
    /// <summary>
    /// fast ← fast − rate ⊙ ∇loss(fast), <paramref name="steps"/> times. With <paramref name="createGraph"/> the
    /// gradients stay in the graph (second order); TorchSharp's retain_graph defaults to false, unlike PyTorch's,
    /// so it is passed explicitly. <paramref name="rates"/> holds one learning-rate tensor (or scalar tensor) per
    /// parameter.
    /// </summary>
    public static IReadOnlyList<Tensor> Run(
        Func<IReadOnlyList<Tensor>, Tensor> loss, IReadOnlyList<Tensor> start, IReadOnlyList<Tensor> rates,
        int steps, bool createGraph, bool retainGraph = false, Tensor? firstLoss = null) =>
        Run(loss, start, steps, createGraph, retainGraph, firstLoss, (p, g, i) => p - rates[i] * g);

    /// <summary>
    /// The same with one scalar learning rate: p − lr·g as a single fused op (add with alpha). The alpha Scalar is held
    /// for every step: an implicit one is left to its finalizer, which can free it while libtorch reads it (HeldScalars).
    /// </summary>
    public static IReadOnlyList<Tensor> Run(
        Func<IReadOnlyList<Tensor>, Tensor> loss, IReadOnlyList<Tensor> start, double rate,
        int steps, bool createGraph, bool retainGraph = false, Tensor? firstLoss = null)
    {
        using var alpha = (-rate).ToScalar();
        return Run(loss, start, steps, createGraph, retainGraph, firstLoss, (p, g, _) => p.add(g, alpha));
    }

    /// <param name="firstLoss">the loss at <paramref name="start"/>, when the caller already computed it in a shared forward pass.</param>
    private static IReadOnlyList<Tensor> Run(
        Func<IReadOnlyList<Tensor>, Tensor> loss, IReadOnlyList<Tensor> start, int steps, bool createGraph,
        bool retainGraph, Tensor? firstLoss, Func<Tensor, Tensor, int, Tensor> update)
    {
        var fast = start;
        for (int s = 0; s < steps; s++)
        {
            var current = s == 0 && firstLoss is not null ? firstLoss : loss(fast);
            var grads = autograd.grad([current], fast.ToArray(), create_graph: createGraph, retain_graph: createGraph || retainGraph);
            var previous = fast;
            fast = previous.Select((p, i) => update(p, grads[i], i)).ToArray();
        }
        return fast;
    }

    public static Func<IReadOnlyList<Tensor>, Tensor> SupportLoss(Func<Tensor, IReadOnlyList<Tensor>, Tensor> forward, Episode episode) =>
        parameters => TaskLoss.Loss(forward(episode.SupportX, parameters), episode.SupportY, episode.Kind);
}
