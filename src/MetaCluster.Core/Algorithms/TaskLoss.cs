using MetaCluster.Core.Episodes;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>The per-task objective: mean squared error for regression, cross-entropy for classification.</summary>
public static class TaskLoss
{
    public static Tensor Loss(Tensor output, Tensor target, TaskKind kind) =>
        kind == TaskKind.Regression ? F.mse_loss(output, target) : F.cross_entropy(output, target);

    /// <summary>Fraction of correct predictions, or null for regression.</summary>
    public static double? Accuracy(Tensor output, Tensor target, TaskKind kind)
    {
        if (kind == TaskKind.Regression) return null;
        using var scope = NewDisposeScope();
        return output.argmax(1).eq(target).to_type(ScalarType.Float64).mean().item<double>();
    }
}
