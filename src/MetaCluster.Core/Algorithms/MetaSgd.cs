using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// Meta-SGD (Li et al. 2017): like MAML, but every parameter has its own learned inner learning rate α (same shape
/// as the parameter), meta-trained together with θ: θ' = θ − α ⊙ ∇L_support(θ). The meta-parameters are θ followed
/// by α ("lr.&lt;name&gt;"); α starts at the configured inner learning rate.
/// </summary>
public sealed class MetaSgd : MetaAlgorithm, ITaskBatchedAlgorithm
{
    public MetaSgd(IFunctionalModel model, AlgorithmOptions options) : base(model, options)
    {
        Layout = model.Layout.Concat(new ParameterLayout(model.Layout.Parameters.Select(p => ("lr." + p.Name, p.Shape))));
    }

    public override string Name => Options.FirstOrder ? "metasgd-fo" : "metasgd";
    public override ParameterLayout Layout { get; }

    public override ParameterSet Initialize(ulong seed)
    {
        var values = ModelWeightsFirst(seed);
        values.AsSpan(Model.Layout.TotalCount).Fill((float)Options.InnerLearningRate);
        return new ParameterSet(Layout, values);
    }

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var (weights, rates) = Split(theta);
        var (before, supportLoss) = ScoreBeforeAndSupportLoss(weights, episode);
        var adapted = GradientSteps.Run(GradientSteps.SupportLoss(Model.Forward, episode), weights, rates,
            Options.InnerSteps, createGraph: !Options.FirstOrder, firstLoss: supportLoss);
        // allow_unused: with zero inner steps the rates do not enter the loss.
        return QueryMetaGradient(theta, adapted, episode, before, allowUnused: true);
    }

    /// <summary>All episodes at once: each task has its own copy of θ and of the rates α as leaves.</summary>
    public (IReadOnlyList<Tensor> Contributions, EpisodeMetrics[] Metrics) ComputeBatch(IBatchedModel model, IReadOnlyList<Tensor> theta, TaskBatch batch)
    {
        var leaves = batch.PerTaskLeaves(theta);
        var (weights, rates) = Split(leaves);
        var (before, supportLoss) = BatchedMetaGradient.BeforeAndSupportLoss(model, weights, batch, Options.MeasureBeforeAdaptation);
        var adapted = GradientSteps.Run(BatchedMetaGradient.SupportLoss(model, batch), weights, rates,
            Options.InnerSteps, createGraph: !Options.FirstOrder, firstLoss: supportLoss);
        return BatchedMetaGradient.QueryMetaGradient(model, leaves, adapted, batch, before, allowUnused: true);
    }

    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps)
    {
        var (weights, rates) = Split(theta);
        return GradientSteps.Run(GradientSteps.SupportLoss(Model.Forward, episode), weights, rates, steps, createGraph: false);
    }

    private (IReadOnlyList<Tensor> Weights, IReadOnlyList<Tensor> Rates) Split(IReadOnlyList<Tensor> theta)
    {
        int n = Model.Layout.Count;
        return (theta.Take(n).ToArray(), theta.Skip(n).ToArray());
    }
}
