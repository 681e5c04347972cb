using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// The classifiers built on the model's body alone (every parameter before its head): prototypical and matching
/// networks, the parameter-predicting meta-network and the pre-training baseline. θ is the body followed by the
/// algorithm's own parameters (none, the FCE LSTMs, the weight generator, the pre-training head) — the model's head is
/// dropped — and all of them classify, so regression datasets are refused.
/// </summary>
public abstract class EmbeddingAlgorithm : MetaAlgorithm
{
    protected EmbeddingAlgorithm(IFunctionalModel model, AlgorithmOptions options) : base(model, options)
    {
    }

    /// <summary>The body followed by the algorithm's own parameters (set by the subclass, from <see cref="BodyLayout"/>).</summary>
    public override ParameterLayout Layout => _layout ?? throw new InvalidOperationException($"{GetType().Name} did not set its layout.");
    private ParameterLayout? _layout;

    /// <summary>Sets θ's layout: the body, then <paramref name="own"/> (the algorithm's parameters; none when null).</summary>
    protected void UseLayout(ParameterLayout? own) => _layout = own is null ? BodyLayout : BodyLayout.Concat(own);

    private ParameterLayout BodyLayout => Model.Layout.Slice(0, Model.HeadStart);

    /// <summary>Width of the body's features: the input width of the model's head.</summary>
    protected int Features => EpisodeEmbeddings.FeatureCount(Model);

    /// <summary>What the algorithm does with labelled examples, for the error on a regression dataset.</summary>
    protected abstract string ClassifiesBy { get; }

    public override void Validate(TaskKind kind) => RequireClassification(kind, ClassifiesBy);

    /// <summary>
    /// The body as the model initialises it; the algorithm's own parameters from <see cref="InitializeOwn"/>, with a
    /// random stream of their own (derived from the seed), so adding them never shifts the body's values.
    /// </summary>
    public override ParameterSet Initialize(ulong seed)
    {
        var values = new float[Layout.TotalCount];
        Model.Initialize(seed).Values.AsSpan(0, Model.Layout[Model.HeadStart].Offset).CopyTo(values);
        InitializeOwn(values, new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, 1)));
        return new ParameterSet(Layout, values);
    }

    /// <summary>Fills the algorithm's own parameters in <paramref name="theta"/> (at their <see cref="Layout"/> offsets); zeros unless overridden.</summary>
    protected virtual void InitializeOwn(float[] theta, DeterministicRandom random)
    {
    }

    protected IReadOnlyList<Tensor> Body(IReadOnlyList<Tensor> theta) => theta.Take(Model.HeadStart).ToArray();

    /// <summary>The algorithm's own parameters: everything after the body.</summary>
    protected Tensor[] Own(IReadOnlyList<Tensor> theta) => theta.Skip(Model.HeadStart).ToArray();
}
