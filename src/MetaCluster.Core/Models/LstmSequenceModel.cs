using MetaCluster.Core.Episodes;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Models;

/// <summary>
/// <c>--model lstm</c>: a one-layer LSTM over a sequence x [n, T, features] whose last hidden state feeds a linear head
/// (e.g. the next value of a sine sequence). Functional like the other models — every gate is a matmul on θ's
/// tensors through <see cref="LstmCell"/> — so MAML, FOMAML, Reptile, Meta-SGD and ANIL (the head is the last
/// layer) meta-train it unchanged.
/// </summary>
public sealed class LstmSequenceModel : IFunctionalModel
{
    private readonly int _inputSize, _hiddenSize, _outputSize;

    public LstmSequenceModel(int inputSize, int hiddenSize, int outputSize)
    {
        if (inputSize < 1 || hiddenSize < 1 || outputSize < 1)
            throw new ArgumentException($"an LSTM needs positive input, hidden and output sizes (got {inputSize}, {hiddenSize}, {outputSize}).");
        (_inputSize, _hiddenSize, _outputSize) = (inputSize, hiddenSize, outputSize);
        Layout = new ParameterLayout(LstmCell.Parameters("lstm", inputSize, hiddenSize).Concat(
        [
            ("head.weight", [outputSize, hiddenSize]),
            ("head.bias", [outputSize]),
        ]));
    }

    public string Name => $"lstm-{_inputSize}-{_hiddenSize}-{_outputSize}";
    public ParameterLayout Layout { get; }
    public int HeadStart => 3;
    public bool UsesBatchStatistics => false;

    /// <summary>The last hidden state, [n, H], after reading x [n, T, features] step by step.</summary>
    public Tensor Embed(Tensor x, IReadOnlyList<Tensor> body)
    {
        if (x.dim() != 3 || x.shape[2] != _inputSize)
            throw new ArgumentException($"{Name} reads sequences shaped [n, steps, {_inputSize}] (got [{string.Join(", ", x.shape)}]).");
        long n = x.shape[0];
        var h = zeros(n, _hiddenSize, dtype: x.dtype, device: x.device);
        var c = zeros(n, _hiddenSize, dtype: x.dtype, device: x.device);
        for (long t = 0; t < x.shape[1]; t++)
            (h, c) = LstmCell.Step(x.select(1, t), h, c, body[0], body[1], body[2]);
        return h;
    }

    public Tensor Head(Tensor features, IReadOnlyList<Tensor> head) => F.linear(features, head[0], head[1]);

    public ParameterSet Initialize(ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var parameters = new ParameterSet(Layout, new float[Layout.TotalCount]);
        LstmCell.Initialize(parameters, 0, _hiddenSize, rng);
        // The head as torch.nn.Linear: U(±1/√fan_in).
        for (int k = 3; k < 5; k++)
            Initializers.Uniform(parameters.Values.AsSpan(Layout[k].Offset, Layout[k].Count), 1.0 / Math.Sqrt(_hiddenSize), rng);
        return parameters;
    }
}
