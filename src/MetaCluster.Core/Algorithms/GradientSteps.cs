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
        int steps, bool createGraph, bool retainGraph = false)
    {
        var fast = start;
        for (int s = 0; s < steps; s++)
        {
            var grads = autograd.grad([loss(fast)], fast.ToArray(), create_graph: createGraph, retain_graph: createGraph || retainGraph);
            fast = fast.Select((p, i) => p - rates[i] * grads[i]).ToArray();
        }
        return fast;
    }

    public static Tensor[] ScalarRates(IReadOnlyList<Tensor> like, double rate) =>
        like.Select(p => tensor(rate, dtype: p.dtype)).ToArray();

    public static Func<IReadOnlyList<Tensor>, Tensor> SupportLoss(Func<Tensor, IReadOnlyList<Tensor>, Tensor> forward, Episode episode) =>
        parameters => TaskLoss.Loss(forward(episode.SupportX, parameters), episode.SupportY, episode.Kind);
}
