using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// Prototypical networks (Snell et al. 2017): the model's body embeds the images; each class's prototype is the mean
/// embedding of its support examples, and a query's logits are minus its squared Euclidean distances to the
/// prototypes. No inner loop: the contribution is the gradient of the query cross-entropy with respect to the body,
/// and "before" and "after" metrics coincide. Support and query are embedded in one batch (transductive batch norm).
/// </summary>
public sealed class ProtoNet : MetricAlgorithm
{
    public ProtoNet(IFunctionalModel model, AlgorithmOptions options) : base(model, options)
    {
        UseLayout(null);
    }

    public override string Name => "protonet";
    protected override string ClassifiesBy => "protonet classifies by distance to class prototypes";

    /// <summary>−‖query − prototype‖², [queries, ways].</summary>
    public override Tensor Logits(IReadOnlyList<Tensor> body, Episode episode, BatchNormMode mode)
    {
        var (support, query) = EpisodeEmbeddings.Embed(Model, body, episode, mode);
        var prototypes = EpisodeEmbeddings.ClassMeans(episode, support);
        var distances = HeldScalars.Square(query.unsqueeze(1) - prototypes.unsqueeze(0)).sum(2); // no implicit Scalar (HeldScalars)
        return -distances;
    }
}
