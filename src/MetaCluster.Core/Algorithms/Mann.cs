using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// Memory-augmented meta-learning (Santoro et al. 2016), <c>--algorithm mann</c>. An episode is presented as one
/// sequence: its support and query examples together, in an order drawn from the episode's index (the same on every
/// worker), each step's input the example's features beside the previous step's label, one-hot (zeros at the first
/// step). The network must bind labels to examples in its <see cref="LruMemory"/> to predict the label of a later
/// presentation of the same class. No inner loop: the memory is the adaptation. The contribution is the gradient of
/// the mean cross-entropy over every step of the sequence; the training metrics are that sequence's loss and accuracy
/// ("before" is null). Evaluation presents each query example after the support set (<see cref="Predict"/>), and <see cref="ByInstance"/> scores
/// each step by how many times its class had been presented (the paper's table: 1st, 2nd, 3rd, 5th, 10th instance).
/// </summary>
public sealed class Mann : MetaAlgorithm
{
    /// <summary>A fixed tag mixed into the episode index to draw the presentation order (not the run seed: evaluation
    /// episodes and training episodes both get an order from their own index).</summary>
    private const ulong OrderSeed = 0x4D414E4E_53455131;

    public Mann(MannNetwork model, AlgorithmOptions options) : base(model, options)
    {
        Network = model;
    }

    public MannNetwork Network { get; }
    public override string Name => "mann";

    public override void Validate(TaskKind kind) => RequireClassification(kind, "mann predicts class labels presented in a sequence");

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var (input, labels, _) = Sequence(episode);
        var logits = Model.Forward(input, theta);
        var loss = F.cross_entropy(logits, labels);
        double accuracy;
        using (no_grad()) accuracy = logits.argmax(1).eq(labels).to_type(ScalarType.Float64).mean().item<double>();
        double lossValue = loss.detach().to_type(ScalarType.Float64).item<double>();
        var gradient = autograd.grad([loss], theta.ToArray());
        return new EpisodeOutcome(gradient.ToArray(), new EpisodeMetrics(null, lossValue, null, accuracy));
    }

    /// <summary>Nothing to adapt by gradient: the network writes the support set into its memory as it reads it.</summary>
    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) => theta;

    /// <summary>
    /// Query logits [queries, ways]: each query example is presented alone right after the support set's sequence (in
    /// its drawn order, labels shifted in), so a prediction uses the support labels and never another query's label —
    /// the few-shot accuracy other methods report, and what <c>adapt</c> needs when query labels are unknown.
    /// </summary>
    public override Tensor Predict(IReadOnlyList<Tensor> adapted, Episode episode, BatchNormMode mode)
    {
        long supportCount = episode.SupportX.shape[0], queryCount = episode.QueryX.shape[0];
        var order = PresentationOrder(episode.Index, (int)supportCount);
        using var orderTensor = tensor(order.Select(i => (long)i).ToArray(), device: episode.SupportX.device);
        var supportX = episode.SupportX.reshape(supportCount, -1).index_select(0, orderTensor);
        var supportY = episode.SupportY.index_select(0, orderTensor);
        var labelsIn = cat([zeros(1, episode.Ways, dtype: supportX.dtype, device: supportX.device), F.one_hot(supportY, episode.Ways).to_type(supportX.dtype)], 0);
        var queryX = episode.QueryX.reshape(queryCount, -1);
        CheckShape(supportX.shape[1], episode.Ways);
        var prefix = cat([supportX, labelsIn.narrow(0, 0, supportCount)], 1);
        var lastLabel = labelsIn.narrow(0, supportCount, 1);
        // The support set's steps once; each query is one more step from that state (not the whole sequence again:
        // 20-way evaluation went from 21 steps a query to 1).
        var (body, head) = (Model.Body(adapted), Model.HeadOf(adapted));
        var (afterSupport, _) = Network.Run(Network.Start(supportX), prefix, body);
        var logits = new Tensor[queryCount];
        for (long q = 0; q < queryCount; q++)
        {
            var (_, features) = Network.Run(afterSupport, cat([queryX.narrow(0, q, 1), lastLabel], 1), body);
            logits[q] = Model.Head(features, head);
        }
        return cat(logits, 0);
    }

    /// <summary>
    /// For every step of the episode's sequence: which presentation of its class it was (1 = the first time the class
    /// appears) and whether the prediction was right. The first presentation can only be guessed: its label has not
    /// been seen yet.
    /// </summary>
    public (int Instance, bool Correct)[] ByInstance(ParameterSet theta, Episode episode)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (input, labels, _) = Sequence(episode);
        var predicted = Model.Forward(input, theta.ToTensors(device: input.device)).argmax(1).cpu().data<long>().ToArray();
        var truth = labels.cpu().data<long>().ToArray();
        var seen = new int[episode.Ways];
        var result = new (int, bool)[truth.Length];
        for (int s = 0; s < truth.Length; s++) result[s] = (++seen[truth[s]], predicted[s] == truth[s]);
        return result;
    }

    /// <summary>
    /// The episode as a sequence: inputs [n, features + ways] (flattened example, then the previous step's label
    /// one-hot), the labels [n] and the order (order[s] = the example shown at step s; support first, then query).
    /// </summary>
    public (Tensor Input, Tensor Labels, int[] Order) Sequence(Episode episode)
    {
        long n = episode.SupportX.shape[0] + episode.QueryX.shape[0];
        var x = cat([episode.SupportX.reshape(episode.SupportX.shape[0], -1), episode.QueryX.reshape(episode.QueryX.shape[0], -1)], 0);
        CheckShape(x.shape[1], episode.Ways);
        var labels = cat([episode.SupportY, episode.QueryY], 0);
        var order = PresentationOrder(episode.Index, (int)n);
        using var orderTensor = tensor(order.Select(i => (long)i).ToArray(), device: x.device);
        var shownX = x.index_select(0, orderTensor);
        var shownY = labels.index_select(0, orderTensor);
        var previous = F.one_hot(shownY, episode.Ways).to_type(x.dtype).narrow(0, 0, n - 1);
        var shifted = cat([zeros(1, episode.Ways, dtype: x.dtype, device: x.device), previous], 0);
        return (cat([shownX, shifted], 1), shownY, order);
    }

    private void CheckShape(long features, int ways)
    {
        if (features != Network.InputSize || ways != Network.Ways)
            throw new ArgumentException($"{Network.Name} was built for {Network.Ways}-way episodes of {Network.InputSize} features; this episode is {ways}-way with {features}.");
    }

    /// <summary>A permutation of the episode's examples drawn from its index alone (Fisher–Yates).</summary>
    public static int[] PresentationOrder(long episodeIndex, int count)
    {
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(OrderSeed, episodeIndex));
        var order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
