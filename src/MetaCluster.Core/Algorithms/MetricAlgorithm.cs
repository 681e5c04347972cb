using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// The embedding classifiers with no inner loop (prototypical and matching networks, the meta-network): an episode's
/// query logits come from its support set in one forward pass, which is the whole adaptation. The contribution is the
/// query cross-entropy's gradient w.r.t. θ, with transductive batch norm as in training, and "before" and "after"
/// metrics coincide.
/// </summary>
public abstract class MetricAlgorithm(IFunctionalModel model, AlgorithmOptions options) : EmbeddingAlgorithm(model, options)
{
    /// <summary>Query logits, [queries, ways], from the episode's support set under θ.</summary>
    public abstract Tensor Logits(IReadOnlyList<Tensor> theta, Episode episode, BatchNormMode mode);

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode) =>
        EpisodeEmbeddings.QueryGradient(theta, Logits(theta, episode, BatchNormMode.Transductive), episode);

    /// <summary>Nothing to adapt by gradient: reading the support set is the adaptation.</summary>
    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) => theta;

    public override Tensor Predict(IReadOnlyList<Tensor> adapted, Episode episode, BatchNormMode mode) => Logits(adapted, episode, mode);
}
