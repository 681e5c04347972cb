using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// The external memory of a memory-augmented network with least-recently-used access (Santoro et al. 2016, §3):
/// content-based reads by cosine similarity, and writes that go either to the slots just read (to update what is
/// there) or to the least-used slots (to store something new), mixed by a learned sigmoid gate. All of it is
/// differentiable except the choice of the least-used slots, which is a step function of the usage, as in the paper.
/// Shapes: memory [N, W], keys [R, W] (one per head), weightings [R, N], usage [N].
/// </summary>
public static class LruMemory
{
    /// <summary>Santoro et al.'s memory start value: a small constant, so cosine similarities are defined from step one.</summary>
    public const double InitialValue = 1e-6;

    private const double CosineEpsilon = 1e-8;

    // Held for the process's lifetime: these ops run millions of times per evaluation (see HeldScalars).
    private static readonly Scalar InitialScalar = InitialValue.ToScalar();
    private static readonly Scalar CosineEpsilonScalar = CosineEpsilon.ToScalar();

    /// <summary>A fresh memory of <paramref name="slots"/> × <paramref name="width"/>, every cell <see cref="InitialValue"/>.</summary>
    public static Tensor Empty(long slots, long width, ScalarType dtype, Device device) =>
        full(slots, width, InitialScalar, dtype: dtype, device: device);

    /// <summary>w^w = σ(α)·w^r_{t−1} + (1 − σ(α))·w^lu_{t−1}, one row per head.</summary>
    public static Tensor WriteWeights(Tensor gateLogit, Tensor previousRead, Tensor previousLeastUsed)
    {
        var gate = gateLogit.sigmoid();
        // lerp(a, b, g) = a + g·(b − a): the same mixture, with no implicit Scalar (1 − g would make one).
        return previousLeastUsed.lerp(previousRead, gate);
    }

    /// <summary>
    /// M_t = M_{t−1}·(1 − w^lu_{t−1}) + (w^w)ᵀ k: the least-used slots are cleared before the write (the paper clears
    /// "the least used memory location" computed from the previous usage; with ties — at the start, when all usage is
    /// zero — every tied slot is cleared), then each head adds its key where it writes.
    /// </summary>
    public static Tensor Write(Tensor memory, Tensor writeWeights, Tensor keys, Tensor previousLeastUsed)
    {
        var keep = HeldScalars.OneMinus(previousLeastUsed.max(0L).values);
        return HeldScalars.Plus(memory * keep.unsqueeze(1), writeWeights.t().matmul(keys));
    }

    /// <summary>w^r = softmax_i(cos(k, M_i)) and r = w^r·M, per head.</summary>
    public static (Tensor Weights, Tensor Reads) Read(Tensor memory, Tensor keys)
    {
        var dot = keys.matmul(memory.t());
        var norms = keys.norm(1, keepdim: true) * memory.norm(1, keepdim: false).unsqueeze(0);
        var weights = (dot / HeldScalars.Plus(norms, CosineEpsilonScalar)).softmax(1);
        return (weights, weights.matmul(memory));
    }

    /// <summary>w^u_t = γ·w^u_{t−1} + Σ_heads (w^r_t + w^w_t).</summary>
    public static Tensor Usage(Tensor previousUsage, Tensor readWeights, Tensor writeWeights, Scalar decay) =>
        HeldScalars.Plus(HeldScalars.Plus(HeldScalars.Times(previousUsage, decay), readWeights.sum(0L)), writeWeights.sum(0L));

    /// <summary>
    /// w^lu: 1 on every slot whose usage is at most the n-th smallest (n = the number of read heads), else 0 — the
    /// same for each head, [R, N]. A step function: no gradient flows through it.
    /// </summary>
    public static Tensor LeastUsed(Tensor usage, int heads)
    {
        using var _ = no_grad();
        var detached = usage.detach();
        var nth = detached.kthvalue(heads, 0).values;
        return detached.le(nth).to_type(usage.dtype).unsqueeze(0).expand(heads, -1).contiguous();
    }
}
