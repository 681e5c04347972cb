using TorchSharp;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// Reptile (Nichol et al. 2018): train a copy of θ for k steps with SGD or Adam (β1 = 0) on the task; the
/// contribution is θ' − θ and the outer step moves θ toward the mean of the adapted weights. As in the reference
/// code, the inner loop sees all of the episode's examples (support ∪ query) unless configured otherwise, so the
/// "after" metrics are training-set figures; evaluation adapts on the support set only. With
/// <see cref="AlgorithmOptions.ReptileInnerBatch"/> each inner step sees the next few of the task's examples in a shuffled
/// order (the reference code's --inner-batch: Omniglot 10 of 5 × 10 examples, so five steps make one pass).
/// <para>
/// With <see cref="AlgorithmOptions.ReptileCarriesAdamState"/> the inner Adam's second moment (as its square root) and
/// step count are state carried beside θ ("adam_rms.&lt;name&gt;", "adam_steps"): the reference code keeps one Adam for
/// the whole run and resets only the weights between tasks, so its steps are scaled by a long-run average of squared
/// gradients, not by the task's first gradient. Run sequentially that state would depend on the order of the tasks;
/// here every task of a round starts from the round's state and returns its change with Δθ, and the round adds the mean
/// change (see <see cref="MetaAlgorithm.OptimizedCount"/>) — the same bits on any number of workers. Evaluation adapts
/// from the trained state, as the reference's does. The root, not v itself, is carried because the round's sum is fixed
/// point with a resolution of 2⁻⁴⁰ ≈ 9·10⁻¹³ (<see cref="Training.ExactSum"/>): a round changes v by about 0.5 %, which
/// for a weight whose gradients are ~10⁻⁵ (v ~ 10⁻¹⁰) is under one unit, so v would never move; its root, on the
/// gradients' own scale, changes by ~27,000 units.
/// </para>
/// </summary>
public sealed class Reptile : MetaAlgorithm, ITaskBatchedAlgorithm
{
    private const double AdamBeta1 = 0.0, AdamBeta2 = 0.999, AdamEpsilon = 1e-8;

    public Reptile(IFunctionalModel model, AlgorithmOptions options) : base(model, options)
    {
        Layout = options.ReptileCarriesAdamState
            ? model.Layout.Concat(new ParameterLayout(model.Layout.Parameters.Select(p => ("adam_rms." + p.Name, p.Shape))
                .Append(("adam_steps", [1L]))))
            : model.Layout;
    }

    public override string Name => "reptile";
    public override ContributionKind Kind => ContributionKind.Delta;
    public override ParameterLayout Layout { get; }
    public override int OptimizedCount => Model.Layout.TotalCount;

    /// <summary>The model's initial weights, then (when carried) a zero second moment and step count: a fresh Adam.</summary>
    public override ParameterSet Initialize(ulong seed) => new(Layout, ModelWeightsFirst(seed));

    /// <summary>
    /// Inner mini-batches are drawn per episode, and carried Adam state is read per episode, so those runs compute
    /// their episodes one by one.
    /// </summary>
    protected override bool BatchesTasks => Options.ReptileInnerBatch == 0 && !Options.ReptileCarriesAdamState;

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var (weights, carried) = Split(theta);
        var before = ScoreBeforeAdaptation(weights, episode);
        var (x, y) = Options.ReptileTrainOnQuery
            ? (cat([episode.SupportX, episode.QueryX], 0), cat([episode.SupportY, episode.QueryY], 0))
            : (episode.SupportX, episode.SupportY);
        var batches = InnerBatches(episode.Index, (int)x.shape[0]);
        var (adapted, secondMoment) = Train(weights, carried, (p, step) => BatchLoss(p, x, y, batches?[step], episode.Kind), Options.InnerSteps);
        var contribution = new List<Tensor>(theta.Count);
        using (no_grad())
        {
            contribution.AddRange(adapted.Select((p, i) => p - weights[i]));
            if (carried is not null)
            {
                contribution.AddRange(secondMoment.Select((v, i) => v.sqrt() - carried.Rms[i]));
                contribution.Add(full_like(carried.StepTensor, (double)Options.InnerSteps));
            }
        }
        var after = ScoreQuery(adapted, episode);
        return new EpisodeOutcome(contribution, new EpisodeMetrics(before.Loss, after.Loss, before.Accuracy, after.Accuracy));
    }

    /// <summary>
    /// Evaluation adapts on the support set, from the trained Adam state when it is carried: the whole set every step,
    /// or with <see cref="AlgorithmOptions.ReptileEvalBatch"/> the next few of its examples (the reference's --eval-batch:
    /// 5 of the 25 examples of 5-way 5-shot, 10 of 20-way's).
    /// </summary>
    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps)
    {
        var (weights, carried) = Split(theta);
        var batches = EvaluationBatches(episode.Index, (int)episode.SupportX.shape[0], steps);
        return Train(weights, carried, (p, step) => BatchLoss(p, episode.SupportX, episode.SupportY, batches?[step], episode.Kind), steps).Weights;
    }

    /// <summary>The loss on the given rows of (x, y), or on all of them when <paramref name="rows"/> is null.</summary>
    private Tensor BatchLoss(IReadOnlyList<Tensor> parameters, Tensor x, Tensor y, long[]? rows, TaskKind kind)
    {
        if (rows is null) return TaskLoss.Loss(Model.Forward(x, parameters), y, kind);
        using var index = tensor(rows, device: x.device);
        return TaskLoss.Loss(Model.Forward(x.index_select(0, index), parameters), y.index_select(0, index), kind);
    }

    /// <summary>The inner Adam's carried state: the root of its second moment (aligned with the weights) and how many steps made it.</summary>
    private sealed record AdamState(IReadOnlyList<Tensor> Rms, Tensor StepTensor)
    {
        public double Steps { get; } = StepTensor.to_type(ScalarType.Float64).item<double>();
    }

    private (IReadOnlyList<Tensor> Weights, AdamState? Carried) Split(IReadOnlyList<Tensor> theta)
    {
        if (!Options.ReptileCarriesAdamState) return (theta, null);
        int n = Model.Layout.Count;
        return (theta.Take(n).ToArray(), new AdamState(theta.Skip(n).Take(n).ToArray(), theta[2 * n]));
    }

    /// <summary>
    /// The rows each inner step trains on, or null for all of them: consecutive slices of a stream of shuffles of
    /// 0..count−1, a new shuffle whenever one runs out, a slice carrying over from one shuffle into the next (the
    /// reference's mini_batches without replacement). The shuffles are seeded by the run and the episode's index, so
    /// any worker computes the same batches.
    /// </summary>
    public long[][]? InnerBatches(long episodeIndex, int count) =>
        Deal(Options.ReptileInnerBatch, Options.InnerSteps, count, DeterministicRandom.DeriveSeed(Options.ShuffleSeed, InnerBatchStream, episodeIndex));

    /// <summary>The support rows each of <paramref name="steps"/> evaluation steps adapts on, dealt as <see cref="InnerBatches"/>; null for all of them.</summary>
    public long[][]? EvaluationBatches(long episodeIndex, int count, int steps) =>
        Deal(Options.ReptileEvalBatch, steps, count, DeterministicRandom.DeriveSeed(Options.ShuffleSeed, EvaluationBatchStream, episodeIndex));

    private static long[][]? Deal(int size, int steps, int count, ulong seed)
    {
        if (size <= 0 || size >= count) return null;
        var random = new DeterministicRandom(seed);
        var batches = new long[steps][];
        int[] order = [];
        int next = count;
        for (int step = 0; step < batches.Length; step++)
        {
            batches[step] = new long[size];
            for (int i = 0; i < size; i++)
            {
                if (next == count)
                {
                    order = random.SampleWithoutReplacement(count, count);
                    next = 0;
                }
                batches[step][i] = order[next++];
            }
        }
        return batches;
    }

    /// <summary>The seed stream of the inner-batch shuffles, apart from the episode streams derived from the same run seed.</summary>
    private const long InnerBatchStream = 0x5245_5054; // "REPT"
    private const long EvaluationBatchStream = 0x5245_5045; // "REPE"

    /// <summary>All episodes at once: per-task copies of θ trained together on the sum of per-task losses.</summary>
    public (IReadOnlyList<Tensor> Contributions, EpisodeMetrics[] Metrics) ComputeBatch(IBatchedModel model, IReadOnlyList<Tensor> theta, TaskBatch batch)
    {
        var start = batch.PerTaskLeaves(theta);
        var (x, y) = Options.ReptileTrainOnQuery
            ? (cat([batch.SupportX, batch.QueryX], 1), cat([batch.SupportY, batch.QueryY], 1))
            : (batch.SupportX, batch.SupportY);
        var before = Options.MeasureBeforeAdaptation ? BatchedMetaGradient.ScoreQuery(model, start, batch) : null;
        var (adapted, _) = Train(start, null, (p, _) => batch.PerTaskLoss(model.ForwardBatched(x, p), y).sum(), Options.InnerSteps);
        Tensor[] delta;
        using (no_grad()) delta = adapted.Select((p, i) => p - start[i]).ToArray();
        var after = BatchedMetaGradient.ScoreQuery(model, adapted, batch);
        return (delta, TaskScores.Metrics(before, after));
    }

    /// <summary>
    /// k optimizer steps on detached copies of the weights, updating in place as torch.optim.SGD/Adam would; Adam starts
    /// from <paramref name="carried"/> (its second moment and step count) when given, else fresh. Returns the trained
    /// weights and Adam's final second moment (empty for SGD).
    /// </summary>
    private (IReadOnlyList<Tensor> Weights, IReadOnlyList<Tensor> SecondMoment) Train(IReadOnlyList<Tensor> theta, AdamState? carried,
        Func<IReadOnlyList<Tensor>, int, Tensor> lossOf, int steps)
    {
        var fast = theta.Select(p => p.detach().clone().requires_grad_()).ToArray();
        bool adam = Options.ReptileInnerOptimizer == InnerOptimizerKind.Adam;
        var m = adam ? fast.Select(p => zeros_like(p)).ToArray() : [];
        var v = !adam ? [] : carried is null ? fast.Select(p => zeros_like(p)).ToArray() : carried.Rms.Select(r => HeldScalars.Square(r.detach())).ToArray();
        double stepsBefore = carried?.Steps ?? 0;
        double lr = Options.InnerLearningRate;
        // Every Scalar an in-place update reads is made here and held to the end (see HeldScalars: an implicit one is
        // left to a finalizer that may free it while libtorch still reads it).
        using var lrScalar = lr.ToScalar();
        using var beta1 = AdamBeta1.ToScalar();
        using var oneMinusBeta1 = (1 - AdamBeta1).ToScalar();
        using var beta2 = AdamBeta2.ToScalar();
        using var oneMinusBeta2 = (1 - AdamBeta2).ToScalar();
        using var epsilon = AdamEpsilon.ToScalar();
        for (int step = 1; step <= steps; step++)
        {
            var loss = lossOf(fast, step - 1);
            var grads = autograd.grad([loss], fast);
            using var _ = no_grad();
            // The first moment is the task's own (β1 = 0 keeps none of it anyway); the second moment's count runs on
            // from the carried state's, so its bias correction fades as the reference's does.
            double biasCorrection1 = 1 - Math.Pow(AdamBeta1, step);
            double biasCorrection2 = 1 - Math.Pow(AdamBeta2, stepsBefore + step);
            using var correction2 = Math.Sqrt(biasCorrection2).ToScalar();
            using var stepSize = (-lr / biasCorrection1).ToScalar();
            for (int i = 0; i < fast.Length; i++)
            {
                if (!adam)
                {
                    fast[i].sub_(grads[i].mul(lrScalar));
                    continue;
                }
                m[i].mul_(beta1).add_(grads[i], alpha: oneMinusBeta1);
                v[i].mul_(beta2).addcmul_(grads[i], grads[i], value: oneMinusBeta2);
                // add_(x) alone would pass an implicit alpha Scalar of 1, left to the finalizer mid-call (HeldScalars).
                var denominator = v[i].sqrt().div(correction2).add_(epsilon, HeldScalars.One);
                fast[i].addcdiv_(m[i], denominator, value: stepSize);
            }
        }
        return (fast, v);
    }
}
