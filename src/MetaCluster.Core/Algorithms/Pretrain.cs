using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// The pre-train + fine-tune baseline (Chen et al. 2019, "A Closer Look at Few-shot Classification"). Training is
/// ordinary classification: the body and a head over every training class learn from mini-batches
/// (<see cref="ClassBatchSource"/> "episodes": the batch is the support set), and an episode's contribution is the
/// batch gradient, so rounds still go through workers and the exact aggregation. At test time the pre-training head
/// is dropped: a new head for the episode's N classes is fine-tuned on the support features for the given number of
/// full-batch gradient steps at the inner learning rate, with the body frozen. Baseline's head is linear (new head
/// from zero); Baseline++'s is cosine, τ·cos(f, w_c) with a fixed τ (new head from the unit class means of the
/// support features, so it is a cosine nearest-mean classifier before any step).
/// </summary>
public sealed class Pretrain : EmbeddingAlgorithm
{
    /// <summary>τ of the cosine head (Chen et al.'s scale for many classes; it keeps a cosine's softmax from being flat).</summary>
    public const double CosineScale = 10;

    public Pretrain(IFunctionalModel model, AlgorithmOptions options, int classes, bool cosine) : base(model, options)
    {
        if (classes < 2)
            throw new ArgumentException($"the pre-training classifier needs at least 2 training classes (got {classes}).");
        Classes = classes;
        Cosine = cosine;
        var head = new List<(string, long[])> { ("pretrain.weight", [classes, Features]) };
        if (!cosine) head.Add(("pretrain.bias", [classes]));
        UseLayout(new ParameterLayout(head));
    }

    public int Classes { get; }
    public bool Cosine { get; }
    public override string Name => Cosine ? "pretrain-baseline++" : "pretrain-baseline";
    protected override string ClassifiesBy => "pretrain trains a classifier over the training classes";

    /// <summary>The head as PyTorch's Linear: U(±1/√d) weights, zero bias.</summary>
    protected override void InitializeOwn(float[] theta, DeterministicRandom random)
    {
        var weight = Layout[Model.HeadStart];
        Initializers.Uniform(theta.AsSpan(weight.Offset, weight.Count), 1.0 / Math.Sqrt(Features), random);
    }

    /// <summary>The batch's cross-entropy gradient w.r.t. body and pre-training head; metrics are the batch's (no adaptation).</summary>
    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        if (episode.Ways != Classes)
            throw new ArgumentException($"pretrain trains on batches over all {Classes} training classes but got an episode of {episode.Ways} classes; train it on a class-batch source.");
        var logits = HeadLogits(Model.Embed(episode.SupportX, Body(theta)), Own(theta));
        return EpisodeEmbeddings.CrossEntropyGradient(theta, logits, episode.SupportY, episode.Kind);
    }

    /// <summary>Body unchanged, followed by a new head for the episode's classes after <paramref name="steps"/> steps on the support set.</summary>
    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps)
    {
        var body = Body(theta);
        Tensor features;
        using (no_grad()) features = Model.Embed(episode.SupportX, body).detach();
        var head = GradientSteps.Run(
            h => F.cross_entropy(HeadLogits(features, h), episode.SupportY), NewHead(features, episode),
            Options.InnerLearningRate, steps, createGraph: false);
        return body.Concat(head.Select(h => h.detach())).ToArray();
    }

    /// <summary>The fine-tuned head on the query features (query alone, or each beside the support set).</summary>
    public override Tensor Predict(IReadOnlyList<Tensor> adapted, Episode episode, BatchNormMode mode)
    {
        var body = Body(adapted);
        var (_, query) = mode == BatchNormMode.NonTransductive
            ? EpisodeEmbeddings.Embed(Model, body, episode, mode)
            : (null!, Model.Embed(episode.QueryX, body));
        return HeadLogits(query, Own(adapted));
    }

    /// <summary>Linear: f Wᵀ + b. Cosine: τ · cos(f, w_c).</summary>
    public Tensor HeadLogits(Tensor features, IReadOnlyList<Tensor> head) => Cosine
        ? HeldScalars.Times(EpisodeEmbeddings.Normalize(features).matmul(EpisodeEmbeddings.Normalize(head[0]).t()), CosineScale)
        : F.linear(features, head[0], head[1]);

    /// <summary>The head an episode starts from: zero (linear), or the support's unit class means (cosine). Leaves that require grad.</summary>
    private Tensor[] NewHead(Tensor features, Episode episode)
    {
        if (!Cosine)
            return [zeros([episode.Ways, Features], features.dtype, features.device).requires_grad_(), zeros([episode.Ways], features.dtype, features.device).requires_grad_()];
        var means = EpisodeEmbeddings.ClassMeans(episode, EpisodeEmbeddings.Normalize(features));
        return [EpisodeEmbeddings.Normalize(means).detach().requires_grad_()];
    }
}
