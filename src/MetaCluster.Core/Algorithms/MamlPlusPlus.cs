using TorchSharp;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// MAML or FOMAML with the MAML++ options (<see cref="MamlPlusPlusOptions"/>; Antoniou et al. 2019). θ is the model's
/// parameters, then — with per-step batch norm — the batch-norm (γ, β) of steps 1…S−1 ("step{s}.bn1.weight", …; the
/// model's own BN slots are step 0's), then — with learned rates — one vector of S rates per inner-adapted parameter
/// tensor ("lr.conv1.weight" [S]), all meta-learned by the outer optimizer like Meta-SGD's rates.
/// With per-step batch norm the BN weights are not adapted in the inner loop (the reference code's
/// enable_inner_loop_optimizable_bn_params = false): step s normalises with its own (γ, β) and — as our Conv4 and the
/// reference, whose batch norm runs with training=True — the statistics of the batch it is given, so there are no
/// running statistics to keep or to average across workers; see docs/algorithms.md "MAML++".
/// Step s's support forward and the query forward after step s both use step s's BN set; evaluation beyond S steps
/// keeps the last step's set and rate.
/// </summary>
public sealed class MamlPlusPlus : MetaAlgorithm
{
    private readonly int _steps;
    private readonly int[] _adapted;   // model-parameter indices the inner loop steps
    private readonly int[] _batchNorm; // model-parameter indices with one copy per step (empty without per-step BN)
    private readonly int _stepBatchNormStart, _ratesStart;

    public MamlPlusPlus(IFunctionalModel model, AlgorithmOptions options, MamlPlusPlusOptions plus) : base(model, options)
    {
        plus.Validate(options.InnerSteps);
        Plus = plus;
        _steps = options.InnerSteps;
        var modelParameters = model.Layout.Parameters;
        _batchNorm = plus.PerStepBatchNorm
            ? Enumerable.Range(0, model.Layout.Count).Where(i => modelParameters[i].Name.StartsWith("bn", StringComparison.Ordinal)).ToArray()
            : [];
        if (plus.PerStepBatchNorm && (!model.UsesBatchStatistics || _batchNorm.Length == 0))
            throw new ArgumentException($"--per-step-bn gives each inner step its own batch-norm weights, but {model.Name} has no batch norm; use it with omniglot or folder (Conv4).");
        _adapted = Enumerable.Range(0, model.Layout.Count).Except(_batchNorm).ToArray();
        var extra = new List<(string, long[])>();
        for (int s = 1; s < (plus.PerStepBatchNorm ? _steps : 0); s++)
            extra.AddRange(_batchNorm.Select(i => ($"step{s}.{modelParameters[i].Name}", modelParameters[i].Shape)));
        if (plus.LearnedInnerRates)
            extra.AddRange(_adapted.Select(i => ("lr." + modelParameters[i].Name, new long[] { _steps })));
        _stepBatchNormStart = model.Layout.Count;
        _ratesStart = _stepBatchNormStart + (plus.PerStepBatchNorm ? (_steps - 1) * _batchNorm.Length : 0);
        Layout = model.Layout.Concat(new ParameterLayout(extra));
    }

    public MamlPlusPlusOptions Plus { get; }
    public override string Name => (Options.FirstOrder ? "fomaml" : "maml") + "++";
    public override ParameterLayout Layout { get; }

    /// <summary>The model's initialisation; every step's BN set starts as the model's (γ = 1, β = 0), every rate at --inner-lr.</summary>
    public override ParameterSet Initialize(ulong seed)
    {
        var values = ModelWeightsFirst(seed);
        for (int s = 1; s < (Plus.PerStepBatchNorm ? _steps : 0); s++)
            foreach (int i in _batchNorm)
            {
                var source = Model.Layout[i];
                values.AsSpan(source.Offset, source.Count).CopyTo(values.AsSpan(Layout[StepBatchNormIndex(s, i)].Offset));
            }
        if (Plus.LearnedInnerRates) values.AsSpan(Layout[_ratesStart].Offset).Fill((float)Options.InnerLearningRate);
        return new ParameterSet(Layout, values);
    }

    /// <summary>The round an episode belongs to: episodes are numbered round·metaBatch + i (<c>EpisodeStream.RoundEpisodes</c>).</summary>
    public long RoundOf(Episode episode) => episode.Index / Plus.MetaBatch;

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode) => ComputeAt(theta, episode, RoundOf(episode));

    /// <summary>The contribution of an episode with the schedules (MSL weights, derivative order) where they stand at <paramref name="round"/>.</summary>
    public EpisodeOutcome ComputeAt(IReadOnlyList<Tensor> theta, Episode episode, long round)
    {
        var before = ScoreBeforeAdaptation(ModelParameters(theta, Fast(theta), 0), episode);
        var (loss, output) = MetaObjective(theta, episode, round);
        var after = Score(output, episode);
        // allow_unused: a step whose query loss weighs nothing may leave a parameter out of the objective.
        var gradient = autograd.grad([loss], theta.ToArray(), allow_unused: true);
        var contribution = gradient.Select((g, i) => g is null || g.IsInvalid ? zeros_like(theta[i]) : g).ToArray();
        return new EpisodeOutcome(contribution, new EpisodeMetrics(before.Loss, after.Loss, before.Accuracy, after.Accuracy));
    }

    /// <summary>
    /// The episode's meta-objective at <paramref name="round"/>: Σ_s w_s · L_query(after step s) with the MSL weights
    /// (or the last step's loss alone), and the query outputs after the last step (for the metrics).
    /// </summary>
    public (Tensor Loss, Tensor FinalOutput) MetaObjective(IReadOnlyList<Tensor> theta, Episode episode, long round)
    {
        bool secondOrder = Plus.SecondOrderAt(round, Options.FirstOrder);
        double[] weights = Plus.MultiStepLoss ? MamlPlusPlusOptions.StepWeights(_steps, round, Plus.MultiStepLossIterations) : LastStepOnly();
        var fast = Fast(theta);
        Tensor? total = null, finalOutput = null;
        for (int s = 0; s < _steps; s++)
        {
            fast = Step(theta, fast, episode, s, secondOrder);
            if (weights[s] == 0) continue;
            var output = Model.Forward(episode.QueryX, ModelParameters(theta, fast, s));
            var weighted = TaskLoss.Loss(output, episode.QueryY, episode.Kind).mul(weights[s]);
            total = total is null ? weighted : HeldScalars.Plus(total, weighted);
            if (s == _steps - 1) finalOutput = output;
        }
        return (total!, finalOutput!);
    }

    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps)
    {
        var fast = Fast(theta);
        for (int s = 0; s < steps; s++) fast = Step(theta, fast, episode, s, createGraph: false);
        return ModelParameters(theta, fast, Math.Max(0, steps - 1));
    }

    /// <summary>One inner step s: fast ← fast − α_s ⊙ ∇L_support, the support forward under step s's BN set.</summary>
    private IReadOnlyList<Tensor> Step(IReadOnlyList<Tensor> theta, IReadOnlyList<Tensor> fast, Episode episode, int step, bool createGraph)
    {
        var support = TaskLoss.Loss(Model.Forward(episode.SupportX, ModelParameters(theta, fast, step)), episode.SupportY, episode.Kind);
        var grads = autograd.grad([support], fast.ToArray(), create_graph: createGraph, retain_graph: createGraph);
        int rateStep = Math.Min(step, _steps - 1);
        using var alpha = (-Options.InnerLearningRate).ToScalar(); // held while libtorch reads it (HeldScalars)
        return fast.Select((p, j) => Plus.LearnedInnerRates
            ? p - theta[_ratesStart + j][rateStep] * grads[j]
            : p.add(grads[j], alpha)).ToArray();
    }

    /// <summary>The inner-adapted parameters at the start: θ's model parameters except the per-step BN ones.</summary>
    private IReadOnlyList<Tensor> Fast(IReadOnlyList<Tensor> theta) => _adapted.Select(i => theta[i]).ToArray();

    /// <summary>The model's parameter list for step <paramref name="step"/>: the adapted tensors and that step's BN set.</summary>
    private Tensor[] ModelParameters(IReadOnlyList<Tensor> theta, IReadOnlyList<Tensor> fast, int step)
    {
        var parameters = new Tensor[Model.Layout.Count];
        for (int j = 0; j < _adapted.Length; j++) parameters[_adapted[j]] = fast[j];
        int s = Math.Min(step, _steps - 1);
        foreach (int i in _batchNorm) parameters[i] = s == 0 ? theta[i] : theta[StepBatchNormIndex(s, i)];
        return parameters;
    }

    private int StepBatchNormIndex(int step, int modelIndex) =>
        _stepBatchNormStart + (step - 1) * _batchNorm.Length + Array.IndexOf(_batchNorm, modelIndex);

    private double[] LastStepOnly()
    {
        var weights = new double[_steps];
        weights[^1] = 1;
        return weights;
    }
}
