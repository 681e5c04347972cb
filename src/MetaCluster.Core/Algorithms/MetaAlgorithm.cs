using System.Buffers;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>The contribution of one episode, as tensors aligned with θ, and its metrics.</summary>
public sealed record EpisodeOutcome(IReadOnlyList<Tensor> Contribution, EpisodeMetrics Metrics);

/// <summary>How batch norm treats the query set when a model normalises with batch statistics.</summary>
public enum BatchNormMode
{
    /// <summary>All query examples are normalised together (the MAML reference code's setting).</summary>
    Transductive,

    /// <summary>Each query example is normalised with the support set alone plus itself (Nichol et al. 2018).</summary>
    NonTransductive,
}

/// <summary>
/// A meta-learning algorithm: given θ and episodes it returns one contribution per episode, identified by the
/// episode's index, so the episodes of a round can be computed anywhere and aggregated in a fixed order.
/// Subclasses implement the tensor-level math (<see cref="Compute"/>, <see cref="Adapt"/>) for any floating dtype,
/// which is what lets the tests check gradients in float64.
/// </summary>
public abstract class MetaAlgorithm
{
    protected MetaAlgorithm(IFunctionalModel model, AlgorithmOptions options)
    {
        options.Validate();
        Model = model;
        Options = options;
    }

    public IFunctionalModel Model { get; }
    public AlgorithmOptions Options { get; }

    /// <summary>The device episodes and θ are computed on (<see cref="AlgorithmOptions.Device"/>).</summary>
    public Device Device => _device ??= Options.Device.ToTorch();
    private Device? _device;
    public abstract string Name { get; }
    public virtual ContributionKind Kind => ContributionKind.Gradient;

    /// <summary>The meta-learned parameters: the model's, plus any the algorithm learns itself (Meta-SGD's rates).</summary>
    public virtual ParameterLayout Layout => Model.Layout;

    /// <summary>
    /// How many of θ's leading values the outer optimizer learns. Those after are state the tasks carry from round to
    /// round (Reptile's inner Adam moments): each task's contribution holds their change, and the round adds the mean
    /// change as it is, whatever the outer optimizer and its learning rate. All of θ when there is no such state.
    /// </summary>
    public virtual int OptimizedCount => Layout.TotalCount;

    public virtual ParameterSet Initialize(ulong seed) => Model.Initialize(seed);

    /// <summary>
    /// A θ-sized vector with the model's initial weights first (they lead every layout) and zeros after: the start of
    /// an <see cref="Initialize"/> for an algorithm with values of its own after the weights.
    /// </summary>
    protected float[] ModelWeightsFirst(ulong seed)
    {
        var values = new float[Layout.TotalCount];
        Model.Initialize(seed).Values.CopyTo(values, 0);
        return values;
    }

    /// <summary>Throws if the algorithm cannot learn episodes of this kind.</summary>
    public virtual void Validate(TaskKind kind) { }

    /// <summary>The error a classifier gives a regression dataset: <paramref name="classifiesBy"/> says what it does with labels.</summary>
    protected static void RequireClassification(TaskKind kind, string classifiesBy)
    {
        if (kind != TaskKind.Classification)
            throw new ArgumentException($"{classifiesBy}: it needs a classification dataset (omniglot or folder), not regression.");
    }

    /// <summary>The contribution of one episode (tensors aligned with <paramref name="theta"/>) and its metrics.</summary>
    public abstract EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode);

    /// <summary>The model parameters after <paramref name="steps"/> inner steps on the support set (no graph kept).</summary>
    public abstract IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps);

    /// <summary>Model outputs for the query set under adapted parameters.</summary>
    public virtual Tensor Predict(IReadOnlyList<Tensor> adapted, Episode episode, BatchNormMode mode)
    {
        if (mode == BatchNormMode.Transductive || !Model.UsesBatchStatistics)
            return Model.Forward(episode.QueryX, adapted);
        long n = episode.QueryX.shape[0];
        var outputs = new Tensor[n];
        for (long i = 0; i < n; i++)
        {
            using var batch = cat([episode.SupportX, episode.QueryX.narrow(0, i, 1)], 0);
            outputs[i] = Model.Forward(batch, adapted).narrow(0, batch.shape[0] - 1, 1);
        }
        return cat(outputs, 0);
    }

    /// <summary>Contributions of a batch of episodes under θ, one array each.</summary>
    public IReadOnlyList<Contribution> Contribute(ParameterSet theta, IEnumerable<long> episodeIndices, Func<long, Episode> sample)
    {
        var contributions = new List<Contribution>();
        Contribute(theta, episodeIndices, sample, (index, values, metrics) => contributions.Add(new Contribution(index, values.ToArray(), metrics)));
        return contributions;
    }

    /// <summary>
    /// Contributions of a batch of episodes under θ, handed to <paramref name="sink"/> in episode order as each is
    /// computed — a caller that only sums them (the single-process trainer, a pre-summing worker) keeps no vector per
    /// episode. One dispose scope for the call and one per episode: each episode's graph is freed as soon as its
    /// gradient is out, which keeps Conv4 memory flat in the meta-batch.
    /// </summary>
    public void Contribute(ParameterSet theta, IEnumerable<long> episodeIndices, Func<long, Episode> sample, ContributionSink sink)
    {
        EnsureLayout(theta);
        long[] indices = episodeIndices.ToArray();
        // Forced batching samples the first episode up front (to fail clearly where unsupported); it is reused.
        if (indices.Length > 0 && (Options.Batching == BatchingMode.Batched
            || (Options.Batching == BatchingMode.Auto && BatchesTasks && Model is IBatchedModel { AutoBatches: true })))
        {
            var first = sample(indices[0]).MoveTo(Device);
            bool batched = false;
            try
            {
                batched = UsesTaskBatching(first.Kind);
            }
            finally
            {
                if (!batched) first.Dispose();
            }
            if (batched)
            {
                ContributeBatched(theta, indices, first, sample, sink);
                return;
            }
        }
        using var call = NewDisposeScope();
        var leaves = theta.ToTensors(requiresGrad: true, device: Device);
        // One buffer for every episode's flat vector (450 KB for Conv4): a fresh one per episode would leave a
        // meta-batch's worth of large-object garbage every round.
        var buffer = ArrayPool<float>.Shared.Rent(Layout.TotalCount);
        try
        {
            var values = buffer.AsSpan(0, Layout.TotalCount);
            foreach (long index in indices)
            {
                using var scope = NewDisposeScope();
                using var episode = sample(index).MoveTo(Device);
                var outcome = Compute(leaves, episode);
                ParameterSet.FlattenInto(Layout, outcome.Contribution, values);
                sink(index, values, outcome.Metrics);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>Whether this algorithm, with its options, has a task-batched computation at all.</summary>
    protected virtual bool BatchesTasks => this is ITaskBatchedAlgorithm;

    /// <summary>
    /// True when this algorithm computes episodes task-batched. Batching covers regression and classification
    /// alike, so <paramref name="kind"/> does not change the answer; it stays for callers that ask per kind. The
    /// choice depends only on the model, the algorithm and the option — never on how many episodes a worker holds —
    /// so every worker count runs the same kernels.
    /// </summary>
    public bool UsesTaskBatching(TaskKind kind)
    {
        bool supported = BatchesTasks && Model is IBatchedModel;
        if (Options.Batching == BatchingMode.Batched && !supported)
            throw new ArgumentException($"{Name} on {Model.Name} cannot run task-batched (supported: maml, fomaml, reptile without --inner-batch or a carried inner Adam, metasgd and anil on MLP and Conv4 models); use --batching loop or auto.");
        // Auto follows the model's measured choice (IBatchedModel.AutoBatches).
        return supported && (Options.Batching == BatchingMode.Batched
            || (Options.Batching == BatchingMode.Auto && ((IBatchedModel)Model).AutoBatches));
    }

    /// <summary>
    /// The episodes in passes of at most <see cref="IBatchedModel.TasksPerPass"/> tasks, each pass's graph freed
    /// before the next. The pass size is the model's constant, and a task's bits do not depend on which other tasks
    /// share its pass (tested), so the split of a round among workers still cannot change a bit.
    /// </summary>
    private void ContributeBatched(ParameterSet theta, long[] indices, Episode first, Func<long, Episode> sample, ContributionSink sink)
    {
        var model = (IBatchedModel)Model;
        int perPass = Math.Max(1, model.TasksPerPass);
        using var call = NewDisposeScope();
        var leaves = theta.ToTensors(requiresGrad: true, device: Device);
        for (int start = 0; start < indices.Length; start += perPass)
        {
            using var pass = NewDisposeScope();
            var chunk = indices.AsSpan(start, Math.Min(perPass, indices.Length - start)).ToArray();
            Episode[] episodes = start == 0 ? [first, .. chunk.Skip(1).Select(OnDevice(sample))] : chunk.Select(OnDevice(sample)).ToArray();
            // libtorch takes another kernel for a batch of one (bmm → mm, an ungrouped convolution), which rounds
            // differently; a lone episode is therefore computed beside a copy of itself.
            var batch = new TaskBatch(episodes.Length == 1 ? [episodes[0], episodes[0]] : episodes);
            foreach (var episode in episodes) episode.Dispose();
            var (perTask, metrics) = ((ITaskBatchedAlgorithm)this).ComputeBatch(model, leaves, batch);
            var values = TaskBatch.FlattenPerTask(Layout, perTask, batch.Count);
            for (int t = 0; t < chunk.Length; t++) sink(chunk[t], values[t], metrics[t]);
        }
    }

    private Func<long, Episode> OnDevice(Func<long, Episode> sample) => index => sample(index).MoveTo(Device);

    /// <summary>
    /// Query loss and accuracy after <paramref name="steps"/> inner steps from θ. The episode stays the caller's: on a
    /// GPU a copy is made there for the call.
    /// </summary>
    public (double Loss, double? Accuracy) Evaluate(ParameterSet theta, Episode episode, int steps, BatchNormMode mode)
    {
        EnsureLayout(theta);
        using var scope = NewDisposeScope();
        if (Device.type != DeviceType.CPU) episode = Copy(episode).MoveTo(Device);
        var leaves = theta.ToTensors(requiresGrad: true, device: Device);
        var adapted = Adapt(leaves, episode, steps);
        using var _ = no_grad();
        var output = Predict(adapted, episode, mode);
        return (TaskLoss.Loss(output, episode.QueryY, episode.Kind).item<float>(), TaskLoss.Accuracy(output, episode.QueryY, episode.Kind));
    }

    /// <summary>
    /// The MAML-family outcome: the query loss under the adapted parameters, differentiated with respect to all of
    /// θ (through the inner loop when it kept its graph), with the before/after metrics.
    /// </summary>
    protected EpisodeOutcome QueryMetaGradient(IReadOnlyList<Tensor> theta, IReadOnlyList<Tensor> adapted, Episode episode,
        (double? Loss, double? Accuracy) before, bool allowUnused = false)
    {
        var output = Model.Forward(episode.QueryX, adapted);
        var loss = TaskLoss.Loss(output, episode.QueryY, episode.Kind);
        var after = Score(output, episode);
        var gradient = autograd.grad([loss], theta.ToArray(), allow_unused: allowUnused);
        // An unused input (e.g. Meta-SGD's rates with zero inner steps) has no gradient: its contribution is zero.
        var contribution = gradient.Select((g, i) => g is null || g.IsInvalid ? zeros_like(theta[i]) : g).ToArray();
        return new EpisodeOutcome(contribution, new EpisodeMetrics(before.Loss, after.Loss, before.Accuracy, after.Accuracy));
    }

    /// <summary>Loss and accuracy of model outputs on the query set, read without keeping a graph.</summary>
    protected static (double Loss, double? Accuracy) Score(Tensor output, Episode episode)
    {
        using var _ = no_grad();
        using var loss = TaskLoss.Loss(output, episode.QueryY, episode.Kind);
        return (loss.to_type(ScalarType.Float64).item<double>(), TaskLoss.Accuracy(output, episode.QueryY, episode.Kind));
    }

    /// <summary>
    /// Query metrics of θ before adaptation and, for models without batch statistics, the support loss at θ from the
    /// same forward pass (support and query in one batch) — which saves the inner loop's first forward. With batch
    /// norm the two sets must be normalised apart, so the support loss is left to the inner loop (null).
    /// </summary>
    protected ((double? Loss, double? Accuracy) Before, Tensor? SupportLoss) ScoreBeforeAndSupportLoss(IReadOnlyList<Tensor> modelParameters, Episode episode)
    {
        if (Model.UsesBatchStatistics || !Options.MeasureBeforeAdaptation) return (ScoreBeforeAdaptation(modelParameters, episode), null);
        long supportCount = episode.SupportX.shape[0];
        var output = Model.Forward(cat([episode.SupportX, episode.QueryX], 0), modelParameters);
        var supportLoss = TaskLoss.Loss(output.narrow(0, 0, supportCount), episode.SupportY, episode.Kind);
        var before = Score(output.narrow(0, supportCount, output.shape[0] - supportCount), episode);
        return (before, supportLoss);
    }

    /// <summary>Query metrics of θ before any adaptation, or nulls when they are not to be measured.</summary>
    protected (double? Loss, double? Accuracy) ScoreBeforeAdaptation(IReadOnlyList<Tensor> modelParameters, Episode episode) =>
        Options.MeasureBeforeAdaptation ? ScoreQuery(modelParameters, episode) : (null, null);

    /// <summary>Query metrics of the given model parameters (transductive batch norm, as in training).</summary>
    protected (double Loss, double? Accuracy) ScoreQuery(IReadOnlyList<Tensor> modelParameters, Episode episode)
    {
        using var _ = no_grad();
        return Score(Model.Forward(episode.QueryX, modelParameters), episode);
    }

    /// <summary>A second handle on the episode's tensors, to hand to <see cref="Episode.MoveTo"/> without giving up the original.</summary>
    private static Episode Copy(Episode e) => new(e.Index, e.Kind, e.Ways, e.SupportX.alias(), e.SupportY.alias(), e.QueryX.alias(), e.QueryY.alias());

    private void EnsureLayout(ParameterSet theta)
    {
        if (!theta.Layout.SameAs(Layout))
            throw new ArgumentException($"{Name} on {Model.Name} expects parameters {Layout.Describe()}, but was given {theta.Layout.Describe()}.");
    }
}
