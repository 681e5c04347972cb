using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// MAML (Finn et al. 2017): adapt θ with SGD on the support set, then the contribution is ∂L_query(θ')/∂θ —
/// differentiating through the inner steps (second order), or treating the inner gradients as constants
/// (first order, "FOMAML").
/// </summary>
public sealed class Maml(IFunctionalModel model, AlgorithmOptions options) : MetaAlgorithm(model, options), ITaskBatchedAlgorithm
{
    public override string Name => Options.FirstOrder ? "fomaml" : "maml";

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var (before, supportLoss) = ScoreBeforeAndSupportLoss(theta, episode);
        var adapted = InnerLoop(theta, episode, Options.InnerSteps, createGraph: !Options.FirstOrder, supportLoss);
        return QueryMetaGradient(theta, adapted, episode, before);
    }

    /// <summary>All episodes at once: per-task copies of θ as leaves, losses summed over tasks (see <see cref="TaskBatch"/>).</summary>
    public (IReadOnlyList<Tensor> Contributions, EpisodeMetrics[] Metrics) ComputeBatch(IBatchedModel model, IReadOnlyList<Tensor> theta, TaskBatch batch)
    {
        var leaves = batch.PerTaskLeaves(theta);
        var (before, supportLoss) = BatchedMetaGradient.BeforeAndSupportLoss(model, leaves, batch, Options.MeasureBeforeAdaptation);
        var adapted = GradientSteps.Run(BatchedMetaGradient.SupportLoss(model, batch), leaves, Options.InnerLearningRate,
            Options.InnerSteps, createGraph: !Options.FirstOrder, firstLoss: supportLoss);
        return BatchedMetaGradient.QueryMetaGradient(model, leaves, adapted, batch, before);
    }

    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) =>
        InnerLoop(theta, episode, steps, createGraph: false);

    private IReadOnlyList<Tensor> InnerLoop(IReadOnlyList<Tensor> theta, Episode episode, int steps, bool createGraph, Tensor? supportLoss = null) =>
        GradientSteps.Run(GradientSteps.SupportLoss(Model.Forward, episode), theta, Options.InnerLearningRate,
            steps, createGraph, firstLoss: supportLoss);
}
