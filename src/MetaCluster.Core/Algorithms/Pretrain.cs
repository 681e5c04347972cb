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
public sealed class Pretrain : MetaAlgorithm
{
    /// <summary>τ of the cosine head (Chen et al.'s scale for many classes; it keeps a cosine's softmax from being flat).</summary>
    public const double CosineScale = 10;
    private readonly int _features;

    public Pretrain(IFunctionalModel model, AlgorithmOptions options, int classes, bool cosine) : base(model, options)
    {
        if (classes < 2)
            throw new ArgumentException($"the pre-training classifier needs at least 2 training classes (got {classes}).");
        Classes = classes;
        Cosine = cosine;
        _features = EpisodeEmbeddings.FeatureCount(model);
        var head = new List<(string, long[])> { ("pretrain.weight", [classes, _features]) };
        if (!cosine) head.Add(("pretrain.bias", [classes]));
        Layout = model.Layout.Slice(0, model.HeadStart).Concat(new ParameterLayout(head));
    }

    public int Classes { get; }
    public bool Cosine { get; }
    public override string Name => Cosine ? "pretrain-baseline++" : "pretrain-baseline";
    public override ParameterLayout Layout { get; }

    /// <summary>The body as the model initialises it; the head as PyTorch's Linear (U(±1/√d) weights, zero bias).</summary>
    public override ParameterSet Initialize(ulong seed)
    {
        var values = new float[Layout.TotalCount];
        Model.Initialize(seed).Values.AsSpan(0, Model.Layout[Model.HeadStart].Offset).CopyTo(values);
        var weight = Layout[Model.HeadStart];
        Initializers.Uniform(values.AsSpan(weight.Offset, weight.Count), 1.0 / Math.Sqrt(_features),
            new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, 1)));
        return new ParameterSet(Layout, values);
    }

    public override void Validate(TaskKind kind)
    {
        if (kind != TaskKind.Classification)
            throw new ArgumentException("pretrain trains a classifier over the training classes: it needs a classification dataset (omniglot or folder), not regression.");
    }

    /// <summary>The batch's cross-entropy gradient w.r.t. body and pre-training head; metrics are the batch's (no adaptation).</summary>
    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        if (episode.Ways != Classes)
            throw new ArgumentException($"pretrain trains on batches over all {Classes} training classes but got an episode of {episode.Ways} classes; train it on a class-batch source.");
        var logits = HeadLogits(Model.Embed(episode.SupportX, Body(theta)), theta.Skip(Model.HeadStart).ToArray());
        var loss = F.cross_entropy(logits, episode.SupportY);
        double value, accuracy;
        using (no_grad())
        {
            value = loss.detach().to_type(ScalarType.Float64).item<double>();
            accuracy = TaskLoss.Accuracy(logits, episode.SupportY, episode.Kind)!.Value;
        }
        var gradient = autograd.grad([loss], theta.ToArray());
        return new EpisodeOutcome(gradient.ToArray(), new EpisodeMetrics(value, value, accuracy, accuracy));
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
        return HeadLogits(query, adapted.Skip(Model.HeadStart).ToArray());
    }

    /// <summary>Linear: f Wᵀ + b. Cosine: τ · cos(f, w_c).</summary>
    public Tensor HeadLogits(Tensor features, IReadOnlyList<Tensor> head) => Cosine
        ? EpisodeEmbeddings.Normalize(features).matmul(EpisodeEmbeddings.Normalize(head[0]).t()) * CosineScale
        : F.linear(features, head[0], head[1]);

    /// <summary>The head an episode starts from: zero (linear), or the support's unit class means (cosine). Leaves that require grad.</summary>
    private Tensor[] NewHead(Tensor features, Episode episode)
    {
        if (!Cosine)
            return [zeros([episode.Ways, _features], features.dtype, features.device).requires_grad_(), zeros([episode.Ways], features.dtype, features.device).requires_grad_()];
        var oneHot = EpisodeEmbeddings.OneHot(episode, features);
        var means = oneHot.t().matmul(EpisodeEmbeddings.Normalize(features)) / oneHot.sum(dim: 0L).unsqueeze(1);
        return [EpisodeEmbeddings.Normalize(means).detach().requires_grad_()];
    }

    private IReadOnlyList<Tensor> Body(IReadOnlyList<Tensor> theta) => theta.Take(Model.HeadStart).ToArray();
}
