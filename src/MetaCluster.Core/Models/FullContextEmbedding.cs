using MetaCluster.Core.Episodes;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// Matching networks' full context embeddings (Vinyals et al. 2016, appendix A), as a functional network over d-wide
/// features. The support set is read by a bidirectional LSTM, g(xᵢ, S) = g′(xᵢ) + h⃗ᵢ + h⃖ᵢ; each query is refined by
/// an attention LSTM over g(S) for <see cref="ProcessingSteps"/> steps:
/// ĥₖ, cₖ = LSTM(f′(x̂), [hₖ₋₁, rₖ₋₁], cₖ₋₁); hₖ = ĥₖ + f′(x̂); rₖ = Σᵢ softmax(hₖᵀ g(S))ᵢ g(xᵢ); f(x̂, S) = h_K.
/// Written with plain tensor ops on parameters passed in, so autograd differentiates it and the float64
/// finite-difference tests check it like everything else.
/// </summary>
public static class FullContextEmbedding
{
    /// <summary>K, the attention LSTM's read steps. The paper leaves it open; 5 reads cover a 5-way support set's classes.</summary>
    public const int ProcessingSteps = 5;

    /// <summary>Parameters for d-wide features: forward and backward support LSTMs (hidden d), the attention LSTM (hidden
    /// input [h, r]: 2d). Gate order i, f, g, o as PyTorch's.</summary>
    public static ParameterLayout Layout(int d) => new([
        ("fce.fw.w_ih", [4L * d, d]), ("fce.fw.w_hh", [4L * d, d]), ("fce.fw.bias", [4L * d]),
        ("fce.bw.w_ih", [4L * d, d]), ("fce.bw.w_hh", [4L * d, d]), ("fce.bw.bias", [4L * d]),
        ("fce.att.w_ih", [4L * d, d]), ("fce.att.w_hh", [4L * d, 2L * d]), ("fce.att.bias", [4L * d]),
    ]);

    /// <summary>PyTorch's LSTM default: every weight and bias U(−1/√hidden, 1/√hidden).</summary>
    public static void Initialize(Span<float> values, int d, DeterministicRandom rng) => Initializers.Uniform(values, 1.0 / Math.Sqrt(d), rng);

    /// <summary>g(S): [support, d] → [support, d], the support embeddings in the context of the whole set (in its order).</summary>
    public static Tensor Support(Tensor embedded, IReadOnlyList<Tensor> p)
    {
        long n = embedded.shape[0], d = embedded.shape[1];
        var forward = Run(embedded, Enumerable.Range(0, (int)n), p[0], p[1], p[2], d);
        var backward = Run(embedded, Enumerable.Range(0, (int)n).Reverse(), p[3], p[4], p[5], d);
        return HeldScalars.Plus(HeldScalars.Plus(embedded, forward), backward);
    }

    /// <summary>f(x̂, S): [queries, d] → [queries, d], given g(S) from <see cref="Support"/>.</summary>
    public static Tensor Query(Tensor embedded, Tensor support, IReadOnlyList<Tensor> p)
    {
        var h = zeros_like(embedded);
        var c = zeros_like(embedded);
        // r₀: the read under h₀ = 0, i.e. uniform attention.
        var r = support.mean([0], keepdim: true).expand(embedded.shape[0], -1);
        for (int k = 0; k < ProcessingSteps; k++)
        {
            var (hat, next) = LstmCell.Step(embedded, cat([h, r], 1), c, p[6], p[7], p[8]);
            h = HeldScalars.Plus(hat, embedded);
            c = next;
            r = h.matmul(support.t()).softmax(1).matmul(support);
        }
        return h;
    }

    /// <summary>Hidden states of a one-directional LSTM read over the rows in <paramref name="order"/>, put back in row order.</summary>
    private static Tensor Run(Tensor rows, IEnumerable<int> order, Tensor wIh, Tensor wHh, Tensor bias, long d)
    {
        var h = zeros([1, d], rows.dtype, rows.device);
        var c = zeros([1, d], rows.dtype, rows.device);
        var states = new Tensor[rows.shape[0]];
        foreach (int i in order)
        {
            (h, c) = LstmCell.Step(rows.narrow(0, i, 1), h, c, wIh, wHh, bias);
            states[i] = h;
        }
        return cat(states, 0);
    }
}
