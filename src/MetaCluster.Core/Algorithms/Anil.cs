using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// ANIL (Raghu et al. 2020): MAML whose inner loop adapts only the head; the body is shared as is. Support features
/// are computed once per episode. The contribution is still the gradient with respect to all of θ (the body learns
/// through the query loss and, second order, through the head's adaptation).
/// </summary>
public sealed class Anil(IFunctionalModel model, AlgorithmOptions options) : MetaAlgorithm(model, options), ITaskBatchedAlgorithm
{
    public override string Name => Options.FirstOrder ? "anil-fo" : "anil";

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var before = ScoreBeforeAdaptation(theta, episode);
        var adapted = InnerLoop(theta, episode, Options.InnerSteps, createGraph: !Options.FirstOrder);
        return QueryMetaGradient(theta, adapted, episode, before);
    }

    /// <summary>
    /// All episodes at once. The body is not stepped, but every task still needs its own body leaves: the
    /// contribution is the gradient with respect to all of θ, body included, per task.
    /// </summary>
    public (IReadOnlyList<Tensor> Contributions, EpisodeMetrics[] Metrics) ComputeBatch(IBatchedModel model, IReadOnlyList<Tensor> theta, TaskBatch batch)
    {
        var leaves = batch.PerTaskLeaves(theta);
        var before = Options.MeasureBeforeAdaptation ? BatchedMetaGradient.ScoreQuery(model, leaves, batch) : null;
        var body = model.Body(leaves);
        var features = model.EmbedBatched(batch.SupportX, body);
        var adaptedHead = GradientSteps.Run(
            h => batch.PerTaskLoss(model.HeadBatched(features, h), batch.SupportY).sum(), model.HeadOf(leaves),
            Options.InnerLearningRate, Options.InnerSteps, !Options.FirstOrder, retainGraph: true);
        return BatchedMetaGradient.QueryMetaGradient(model, leaves, body.Concat(adaptedHead).ToArray(), batch, before);
    }

    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) =>
        InnerLoop(theta, episode, steps, createGraph: false);

    /// <summary>Body parameters are returned as the very same tensors; only the head is stepped.</summary>
    public IReadOnlyList<Tensor> InnerLoop(IReadOnlyList<Tensor> theta, Episode episode, int steps, bool createGraph)
    {
        var body = Model.Body(theta);
        var head = Model.HeadOf(theta);
        var features = Model.Embed(episode.SupportX, body);
        // The support features' graph is shared by every inner step, so it must survive each step's gradient call.
        var adaptedHead = GradientSteps.Run(
            h => TaskLoss.Loss(Model.Head(features, h), episode.SupportY, episode.Kind), head,
            Options.InnerLearningRate, steps, createGraph, retainGraph: true);
        return body.Concat(adaptedHead).ToArray();
    }
}
