using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// A parameter-predicting meta-network: a learned generator maps each class's support activations to that class's
/// classifier weights, in one forward pass (Qiao et al. 2018, "predicting parameters from activations"; with the
/// cosine classifier and learned scale of Gidaris &amp; Komodakis 2018). For class c with unit-length mean support
/// embedding p̂_c the generated weight is w_c = φ ⊙ p̂_c + W₂ relu(W₁ p̂_c + b₁) + b₂, and a query's logits are
/// τ · cos(f(x̂), w_c). φ starts at 1 and W₂ at 0, so the network starts as a cosine prototype classifier and learns
/// how to turn activations into better weights. The contribution is the query cross-entropy's gradient w.r.t. the
/// body and the generator (φ, W₁, b₁, W₂, b₂, τ): no inner loop, the same episode shape as <see cref="ProtoNet"/>.
/// </summary>
public sealed class MetaNet : MetricAlgorithm
{
    /// <summary>Initial τ: a cosine in [−1, 1] needs a scale to give confident softmax outputs (Gidaris &amp; Komodakis learn it from 10).</summary>
    public const float InitialScale = 10f;

    public MetaNet(IFunctionalModel model, AlgorithmOptions options) : base(model, options)
    {
        long d = Features;
        UseLayout(new ParameterLayout([
            ("generator.phi", [d]), ("generator.w1", [d, d]), ("generator.b1", [d]),
            ("generator.w2", [d, d]), ("generator.b2", [d]), ("generator.scale", [1L]),
        ]));
    }

    public override string Name => "metanet";
    protected override string ClassifiesBy => "metanet generates a classifier's weights from labelled support examples";

    /// <summary>The generator starts as the identity on p̂ (φ = 1, b₁ = W₂ = b₂ = 0) with W₁ ~ U(±1/√d) and τ at <see cref="InitialScale"/>.</summary>
    protected override void InitializeOwn(float[] theta, DeterministicRandom random)
    {
        foreach (var p in Layout.Parameters.Skip(Model.HeadStart))
        {
            var span = theta.AsSpan(p.Offset, p.Count);
            switch (p.Name)
            {
                case "generator.phi": Initializers.Fill(span, 1f); break;
                case "generator.w1": Initializers.Uniform(span, 1.0 / Math.Sqrt(Features), random); break;
                case "generator.scale": Initializers.Fill(span, InitialScale); break;
                default: Initializers.Fill(span, 0f); break; // b₁, W₂, b₂: the generator starts as the identity on p̂
            }
        }
    }

    /// <summary>The weights the generator predicts for the episode's classes, [ways, d].</summary>
    public Tensor ClassWeights(IReadOnlyList<Tensor> theta, Tensor support, Episode episode)
    {
        var g = Own(theta);
        var unit = EpisodeEmbeddings.Normalize(EpisodeEmbeddings.ClassMeans(episode, EpisodeEmbeddings.Normalize(support)));
        return HeldScalars.Plus(g[0] * unit, F.linear(F.relu(F.linear(unit, g[1], g[2])), g[3], g[4]));
    }

    /// <summary>τ · cos(query, w_c), [queries, ways].</summary>
    public override Tensor Logits(IReadOnlyList<Tensor> theta, Episode episode, BatchNormMode mode)
    {
        var (support, query) = EpisodeEmbeddings.Embed(Model, Body(theta), episode, mode);
        var weights = ClassWeights(theta, support, episode);
        var scale = theta[^1];
        return scale * EpisodeEmbeddings.Normalize(query).matmul(EpisodeEmbeddings.Normalize(weights).t());
    }
}
