using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// MAML (Finn et al. 2017): adapt θ with SGD on the support set, then the contribution is ∂L_query(θ')/∂θ —
/// differentiating through the inner steps (second order), or treating the inner gradients as constants
/// (first order, "FOMAML").
/// </summary>
public sealed class Maml(IFunctionalModel model, AlgorithmOptions options) : MetaAlgorithm(model, options)
{
    public override string Name => Options.FirstOrder ? "fomaml" : "maml";

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var (before, supportLoss) = ScoreBeforeAndSupportLoss(theta, episode);
        var adapted = InnerLoop(theta, episode, Options.InnerSteps, createGraph: !Options.FirstOrder, supportLoss);
        return QueryMetaGradient(theta, adapted, episode, before);
    }

    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) =>
        InnerLoop(theta, episode, steps, createGraph: false);

    private IReadOnlyList<Tensor> InnerLoop(IReadOnlyList<Tensor> theta, Episode episode, int steps, bool createGraph, Tensor? supportLoss = null) =>
        GradientSteps.Run(GradientSteps.SupportLoss(Model.Forward, episode), theta, Options.InnerLearningRate,
            steps, createGraph, firstLoss: supportLoss);
}
