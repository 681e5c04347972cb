using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// Prototypical networks (Snell et al. 2017): the model's body embeds the images; each class's prototype is the mean
/// embedding of its support examples, and a query's logits are minus its squared Euclidean distances to the
/// prototypes. No inner loop: the contribution is the gradient of the query cross-entropy with respect to the body,
/// and "before" and "after" metrics coincide. Support and query are embedded in one batch (transductive batch norm).
/// </summary>
public sealed class ProtoNet : MetaAlgorithm
{
    public ProtoNet(IFunctionalModel model, AlgorithmOptions options) : base(model, options)
    {
        Layout = model.Layout.Slice(0, model.HeadStart);
    }

    public override string Name => "protonet";
    public override ParameterLayout Layout { get; }

    public override ParameterSet Initialize(ulong seed) =>
        new(Layout, Model.Initialize(seed).Values[..Layout.TotalCount]);

    public override void Validate(TaskKind kind)
    {
        if (kind != TaskKind.Classification)
            throw new ArgumentException("protonet classifies by distance to class prototypes: it needs a classification dataset (omniglot or folder), not regression.");
    }

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var logits = Logits(theta, episode, BatchNormMode.Transductive);
        var loss = F.cross_entropy(logits, episode.QueryY);
        var score = Score(logits, episode);
        var gradient = autograd.grad([loss], theta.ToArray());
        return new EpisodeOutcome(gradient.ToArray(), new EpisodeMetrics(score.Loss, score.Loss, score.Accuracy, score.Accuracy));
    }

    /// <summary>Nothing to adapt: the prototypes are the adaptation.</summary>
    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) => theta;

    public override Tensor Predict(IReadOnlyList<Tensor> adapted, Episode episode, BatchNormMode mode) =>
        Logits(adapted, episode, mode);

    /// <summary>−‖query − prototype‖², [queries, ways].</summary>
    public Tensor Logits(IReadOnlyList<Tensor> body, Episode episode, BatchNormMode mode)
    {
        long supportCount = episode.SupportX.shape[0];
        Tensor support, query;
        if (mode == BatchNormMode.Transductive || !Model.UsesBatchStatistics)
        {
            var all = Model.Embed(cat([episode.SupportX, episode.QueryX], 0), body);
            support = all.narrow(0, 0, supportCount);
            query = all.narrow(0, supportCount, all.shape[0] - supportCount);
        }
        else
        {
            support = Model.Embed(episode.SupportX, body);
            long n = episode.QueryX.shape[0];
            query = cat(Enumerable.Range(0, (int)n).Select(i =>
                Model.Embed(cat([episode.SupportX, episode.QueryX.narrow(0, i, 1)], 0), body).narrow(0, supportCount, 1)).ToArray(), 0);
        }
        var oneHot = F.one_hot(episode.SupportY, episode.Ways).to_type(support.dtype);
        var prototypes = oneHot.t().matmul(support) / oneHot.sum(dim: 0L).unsqueeze(1);
        var distances = (query.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(2);
        return -distances;
    }
}
