using MetaCluster.Core.Episodes;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Models;

/// <summary>
/// One step of a long short-term memory cell written functionally: the gates come from matmuls on tensors of θ that
/// the caller passes in, so an inner loop (MAML on <c>--model lstm</c>), the MANN controller and the coordinate-wise
/// LSTM meta-learner all differentiate through it the same way. Gate order i, f, g, o and the weight shapes are
/// torch.nn.LSTMCell's: weight_ih [4H, in], weight_hh [4H, H], one bias [4H] (PyTorch's two biases summed).
/// </summary>
public static class LstmCell
{
    /// <summary>(h, c) after one step from x [n, in], h and c [n, H].</summary>
    public static (Tensor H, Tensor C) Step(Tensor x, Tensor h, Tensor c, Tensor weightIh, Tensor weightHh, Tensor bias)
    {
        var gates = HeldScalars.Plus(F.linear(x, weightIh, bias), F.linear(h, weightHh));
        var chunks = gates.chunk(4, dim: -1);
        var input = chunks[0].sigmoid();
        var forget = chunks[1].sigmoid();
        var candidate = chunks[2].tanh();
        var output = chunks[3].sigmoid();
        var cNext = HeldScalars.Plus(forget * c, input * candidate);
        return (output * cNext.tanh(), cNext);
    }

    /// <summary>The three parameters of a cell named <paramref name="prefix"/>, in the order <see cref="Step"/> takes them.</summary>
    public static IEnumerable<(string Name, long[] Shape)> Parameters(string prefix, int inputSize, int hiddenSize) =>
    [
        ($"{prefix}.weight_ih", [4L * hiddenSize, inputSize]),
        ($"{prefix}.weight_hh", [4L * hiddenSize, hiddenSize]),
        ($"{prefix}.bias", [4L * hiddenSize]),
    ];

    /// <summary>
    /// torch.nn.LSTMCell's initialisation, U(±1/√H) for weights and bias, with the forget gate's bias raised by 1 so a
    /// fresh cell keeps its state (Jozefowicz et al. 2015) instead of halving it every step.
    /// </summary>
    public static void Initialize(ParameterSet parameters, int firstIndex, int hiddenSize, DeterministicRandom rng)
    {
        double bound = 1.0 / Math.Sqrt(hiddenSize);
        var values = parameters.Values;
        for (int k = 0; k < 3; k++)
        {
            var info = parameters.Layout[firstIndex + k];
            Initializers.Uniform(values.AsSpan(info.Offset, info.Count), bound, rng);
        }
        var bias = parameters.Layout[firstIndex + 2];
        for (int j = hiddenSize; j < 2 * hiddenSize; j++) values[bias.Offset + j] += 1f;
    }
}
