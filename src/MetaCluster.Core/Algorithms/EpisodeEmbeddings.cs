using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// Support and query embeddings of an episode under the model's body, and what the embedding classifiers
/// (<see cref="EmbeddingAlgorithm"/>: prototypical and matching networks, the meta-network, the pre-training baseline)
/// compute from them. Transductive: both sets in one batch, as in training; non-transductive: the support set alone,
/// and each query beside the support set only.
/// </summary>
internal static class EpisodeEmbeddings
{
    public static (Tensor Support, Tensor Query) Embed(IFunctionalModel model, IReadOnlyList<Tensor> body, Episode episode, BatchNormMode mode)
    {
        long supportCount = episode.SupportX.shape[0];
        if (mode == BatchNormMode.Transductive || !model.UsesBatchStatistics)
        {
            var all = model.Embed(cat([episode.SupportX, episode.QueryX], 0), body);
            return (all.narrow(0, 0, supportCount), all.narrow(0, supportCount, all.shape[0] - supportCount));
        }
        var support = model.Embed(episode.SupportX, body);
        long n = episode.QueryX.shape[0];
        var query = cat(Enumerable.Range(0, (int)n).Select(i =>
            model.Embed(cat([episode.SupportX, episode.QueryX.narrow(0, i, 1)], 0), body).narrow(0, supportCount, 1)).ToArray(), 0);
        return (support, query);
    }

    /// <summary>Width of the body's features: the input width of the model's head.</summary>
    public static int FeatureCount(IFunctionalModel model) => checked((int)model.Layout[model.HeadStart].Shape[^1]);

    /// <summary>Rows scaled to unit length (ε keeps an all-zero ReLU feature finite).</summary>
    public static Tensor Normalize(Tensor x) => F.normalize(x, p: 2, dim: 1, eps: 1e-8);

    /// <summary>One-hot support labels [support, ways] in the features' dtype.</summary>
    public static Tensor OneHot(Episode episode, Tensor like) => F.one_hot(episode.SupportY, episode.Ways).to_type(like.dtype);

    /// <summary>Each class's mean of the support rows <paramref name="support"/>, [ways, d] (prototypes, generator inputs, cosine heads).</summary>
    public static Tensor ClassMeans(Episode episode, Tensor support)
    {
        var oneHot = OneHot(episode, support);
        return oneHot.t().matmul(support) / oneHot.sum(dim: 0L).unsqueeze(1);
    }

    /// <summary>The classic metric-method outcome: the query cross-entropy's gradient w.r.t. every leaf; no inner loop,
    /// so "before" and "after" coincide.</summary>
    public static EpisodeOutcome QueryGradient(IReadOnlyList<Tensor> theta, Tensor logits, Episode episode) =>
        CrossEntropyGradient(theta, logits, episode.QueryY, episode.Kind);

    /// <summary>
    /// The cross-entropy of <paramref name="logits"/> against <paramref name="labels"/>: its gradient w.r.t. every leaf
    /// (zeros for one the logits do not use) and its loss and accuracy as both the "before" and "after" metrics.
    /// </summary>
    public static EpisodeOutcome CrossEntropyGradient(IReadOnlyList<Tensor> theta, Tensor logits, Tensor labels, TaskKind kind)
    {
        var loss = F.cross_entropy(logits, labels);
        double value;
        double accuracy;
        using (no_grad())
        {
            value = loss.detach().to_type(ScalarType.Float64).item<double>();
            accuracy = TaskLoss.Accuracy(logits, labels, kind)!.Value;
        }
        var gradient = autograd.grad([loss], theta.ToArray(), allow_unused: true);
        var contribution = gradient.Select((g, i) => g is null || g.IsInvalid ? zeros_like(theta[i]) : g).ToArray();
        return new EpisodeOutcome(contribution, new EpisodeMetrics(value, value, accuracy, accuracy));
    }
}
