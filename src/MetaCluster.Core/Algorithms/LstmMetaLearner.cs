using TorchSharp;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// The LSTM meta-learner of Ravi &amp; Larochelle (2017), <c>--algorithm lstm-meta</c>. The learner (the dataset's
/// MLP or Conv4) is trained on the support set by a learned update rule instead of SGD: a coordinate-wise LSTM (one
/// small <see cref="LstmCell"/> shared by every learner parameter, reading the preprocessed gradient and loss) feeds
/// a second cell whose cell state IS the learner's parameters,
///   f_t = σ(W_F·[h_t, θ_{t−1}, f_{t−1}] + b_F),  i_t = σ(W_I·[h_t, θ_{t−1}, i_{t−1}] + b_I),
///   θ_t = f_t ⊙ θ_{t−1} − i_t ⊙ ∇_t,
/// so the input gate plays a per-coordinate learning rate and the forget gate a learned weight decay. θ (what is
/// meta-learned and aggregated) is the learner's initial parameters c₀ followed by the meta-learner's weights; the
/// contribution is the gradient of the query loss after <see cref="AlgorithmOptions.InnerSteps"/> updates with
/// respect to all of it. First order (the paper's choice, the default for this algorithm) treats ∇_t and the loss fed
/// to the meta-learner as constants; second order differentiates through them as well.
/// </summary>
public sealed class LstmMetaLearner : MetaAlgorithm
{
    /// <summary>The coordinate-wise LSTM's width, as in the paper's code.</summary>
    public const int DefaultHiddenSize = 20;

    /// <summary>Andrychowicz et al.'s gradient preprocessing constant p.</summary>
    private const double PreprocessP = 10;

    private readonly int _hidden;
    private readonly int _learnerCount;

    public LstmMetaLearner(IFunctionalModel model, AlgorithmOptions options, int hiddenSize = DefaultHiddenSize) : base(model, options)
    {
        if (hiddenSize < 1) throw new ArgumentException($"the meta-learner's hidden size must be positive (got {hiddenSize}).");
        _hidden = hiddenSize;
        _learnerCount = model.Layout.Count;
        Layout = model.Layout.Concat(new ParameterLayout(LstmCell.Parameters("meta.lstm", 4, hiddenSize).Concat(
        [
            ("meta.forget.weight", [1, hiddenSize + 2]),
            ("meta.forget.bias", [1]),
            ("meta.input.weight", [1, hiddenSize + 2]),
            ("meta.input.bias", [1]),
        ])));
    }

    public override string Name => "lstm-meta";
    public override ParameterLayout Layout { get; }

    /// <summary>
    /// c₀ = the learner's own initialisation; the meta-LSTM as torch.nn.LSTMCell; gate weights U(±0.01); the forget
    /// bias U(4, 6) and the input bias U(−5, −4) (the paper's), so training starts near plain SGD with a small rate.
    /// </summary>
    public override ParameterSet Initialize(ulong seed)
    {
        var values = new float[Layout.TotalCount];
        Model.Initialize(seed).Values.CopyTo(values, 0);
        var parameters = new ParameterSet(Layout, values);
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, 1));
        LstmCell.Initialize(parameters, _learnerCount, _hidden, rng);
        (double Low, double High)[] ranges = [(-0.01, 0.01), (4, 6), (-0.01, 0.01), (-5, -4)];
        for (int k = 0; k < ranges.Length; k++)
        {
            var info = Layout[_learnerCount + 3 + k];
            for (int j = 0; j < info.Count; j++) values[info.Offset + j] = (float)rng.NextDouble(ranges[k].Low, ranges[k].High);
        }
        return parameters;
    }

    public override EpisodeOutcome Compute(IReadOnlyList<Tensor> theta, Episode episode)
    {
        var learner = theta.Take(_learnerCount).ToArray();
        var before = ScoreBeforeAdaptation(learner, episode);
        var adapted = Unroll(learner, theta.Skip(_learnerCount).ToArray(), episode, Options.InnerSteps, keepGraph: true);
        // With zero updates the meta-learner's weights are unused: their contribution is zero.
        return QueryMetaGradient(theta, adapted, episode, before, allowUnused: true);
    }

    public override IReadOnlyList<Tensor> Adapt(IReadOnlyList<Tensor> theta, Episode episode, int steps) =>
        Unroll(theta.Take(_learnerCount).ToArray(), theta.Skip(_learnerCount).ToArray(), episode, steps, keepGraph: false);

    /// <summary>
    /// The learner's parameters after <paramref name="steps"/> meta-learner updates on the support set. Every
    /// coordinate of the learner is a row: the learner's parameters are one flat vector [P], the meta-LSTM's state
    /// [P, H]. Without <paramref name="keepGraph"/> each step starts from detached values (evaluation, adaptation).
    /// </summary>
    private IReadOnlyList<Tensor> Unroll(Tensor[] learner, Tensor[] meta, Episode episode, int steps, bool keepGraph)
    {
        bool secondOrder = keepGraph && !Options.FirstOrder;
        var flat = cat(learner.Select(p => p.reshape(-1)).ToArray(), 0);
        long count = flat.shape[0];
        var dtype = flat.dtype;
        var h = zeros(count, _hidden, dtype: dtype, device: flat.device);
        var c = zeros(count, _hidden, dtype: dtype, device: flat.device);
        var forget = zeros(count, 1, dtype: dtype, device: flat.device);
        var input = zeros(count, 1, dtype: dtype, device: flat.device);
        for (int s = 0; s < steps; s++)
        {
            if (!keepGraph)
            {
                flat = flat.detach().requires_grad_();
                (h, c, forget, input) = (h.detach(), c.detach(), forget.detach(), input.detach());
            }
            var loss = TaskLoss.Loss(Model.Forward(episode.SupportX, Unflatten(flat)), episode.SupportY, episode.Kind);
            var gradient = autograd.grad([loss], [flat], create_graph: secondOrder, retain_graph: secondOrder)[0];
            if (!secondOrder) (gradient, loss) = (gradient.detach(), loss.detach());
            var features = cat([Preprocess(gradient.unsqueeze(1)), Preprocess(loss.reshape(1, 1)).expand(count, 2)], 1);
            (h, c) = LstmCell.Step(features, h, c, meta[0], meta[1], meta[2]);
            (flat, forget, input) = Update(flat, gradient, h, forget, input, meta);
        }
        return keepGraph ? Unflatten(flat) : Unflatten(flat.detach());
    }

    /// <summary>
    /// The meta-learner's cell: θ_t = f_t ⊙ θ_{t−1} − i_t ⊙ ∇_t with the gates from the coordinate-wise state h, the
    /// current parameter value and the previous gate value. Public so the tests check it against finite differences.
    /// </summary>
    public static (Tensor Parameters, Tensor Forget, Tensor Input) Update(Tensor flat, Tensor gradient, Tensor h,
        Tensor previousForget, Tensor previousInput, IReadOnlyList<Tensor> meta)
    {
        var value = flat.unsqueeze(1);
        var forget = F.linear(cat([h, value, previousForget], 1), meta[3], meta[4]).sigmoid();
        var input = F.linear(cat([h, value, previousInput], 1), meta[5], meta[6]).sigmoid();
        var next = forget.squeeze(1) * flat - input.squeeze(1) * gradient;
        return (next, forget, input);
    }

    /// <summary>
    /// Andrychowicz et al. (2016): x ↦ (log|x| / p, sign x) when |x| ≥ e^−p, else (−1, e^p·x) — scale-free inputs
    /// for gradients and losses that span orders of magnitude. The log is clamped so the branch not taken has a finite
    /// gradient too. [n, 1] → [n, 2].
    /// </summary>
    public static Tensor Preprocess(Tensor x)
    {
        // Scalars made here and disposed at the end, so none is left to a finalizer mid-kernel (HeldScalars).
        using var threshold = Math.Exp(-PreprocessP).ToScalar();
        using var minusOne = (-1.0).ToScalar();
        using var p = PreprocessP.ToScalar();
        using var expP = Math.Exp(PreprocessP).ToScalar();
        var large = x.abs().ge(threshold);
        var magnitude = where(large, x.abs().clamp_min(threshold).log().div(p), full_like(x, minusOne));
        var direction = where(large, x.sign(), x.mul(expP));
        return cat([magnitude, direction], 1);
    }

    /// <summary>The flat learner vector as the model's parameter tensors (views, so gradients flow back to it).</summary>
    private Tensor[] Unflatten(Tensor flat) =>
        Model.Layout.Parameters.Select(p => flat.narrow(0, p.Offset, p.Count).reshape(p.Shape)).ToArray();
}
