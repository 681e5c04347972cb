using MetaCluster.Core.Episodes;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Models;

/// <summary>
/// Fully connected network with ReLU between layers, e.g. 1-40-40-1 for sinusoid regression (Finn et al. 2017).
/// The last layer is the head. Initialised like torch.nn.Linear: weight and bias ~ U(±1/√fan_in).
/// </summary>
public sealed class Mlp : IBatchedModel
{
    private readonly int[] _widths;

    public Mlp(params int[] widths)
    {
        if (widths.Length < 2) throw new ArgumentException("an MLP needs at least an input and an output width.");
        if (widths.Any(w => w < 1)) throw new ArgumentException($"MLP widths must be positive (got {string.Join("-", widths)}).");
        _widths = widths;
        Layout = new ParameterLayout(Enumerable.Range(0, widths.Length - 1).SelectMany(i => new[]
        {
            ($"fc{i + 1}.weight", new long[] { widths[i + 1], widths[i] }),
            ($"fc{i + 1}.bias", new long[] { widths[i + 1] }),
        }));
        HeadStart = Layout.Count - 2;
    }

    public string Name => "mlp-" + string.Join("-", _widths);
    public ParameterLayout Layout { get; }
    public int HeadStart { get; }
    public bool UsesBatchStatistics => false;

    /// <summary>An MLP task's activations are tiny: every task of a call in one pass.</summary>
    public int TasksPerPass => int.MaxValue;

    /// <summary>An MLP task is too small to keep libtorch busy alone: batching shares the per-op overhead.</summary>
    public bool AutoBatches => true;
    public IReadOnlyList<int> Widths => _widths;

    public Tensor Embed(Tensor x, IReadOnlyList<Tensor> body)
    {
        for (int i = 0; i < body.Count; i += 2)
            x = F.relu(F.linear(x, body[i], body[i + 1]));
        return x;
    }

    public Tensor Head(Tensor features, IReadOnlyList<Tensor> head) => F.linear(features, head[0], head[1]);

    /// <summary>x [T, n, in] → [T, n, hidden]: one batched matmul per body layer, x·Wᵀ + b, then ReLU.</summary>
    public Tensor EmbedBatched(Tensor x, IReadOnlyList<Tensor> body)
    {
        for (int i = 0; i < body.Count; i += 2)
            x = F.relu(BatchedModelExtensions.LinearBatched(x, body[i], body[i + 1]));
        return x;
    }

    public Tensor HeadBatched(Tensor features, IReadOnlyList<Tensor> head) =>
        BatchedModelExtensions.LinearBatched(features, head[0], head[1]);

    public ParameterSet Initialize(ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var values = new float[Layout.TotalCount];
        foreach (var p in Layout.Parameters)
        {
            int fanIn = _widths[int.Parse(p.Name[2..p.Name.IndexOf('.')]) - 1];
            Initializers.Uniform(values.AsSpan(p.Offset, p.Count), 1.0 / Math.Sqrt(fanIn), rng);
        }
        return new ParameterSet(Layout, values);
    }
}
