using TorchSharp;
using MetaCluster.Core.Episodes;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Models;

/// <summary>
/// A memory-augmented neural network (Santoro et al. 2016): an LSTM controller reads one sequence step at a time —
/// the example's features beside the previous step's label, one-hot (prepared by the <c>mann</c> algorithm) and the
/// last step's read vectors — and addresses an external <see cref="LruMemory"/> with R read heads; the class logits
/// come from the controller's state and what it read. The batch dimension of <see cref="Embed"/>'s input is the
/// sequence: [steps, inputSize + ways] → features [steps, H + R·W], so the memory lives for one episode only.
/// </summary>
public sealed class MannNetwork : IFunctionalModel
{
    public MannNetwork(int inputSize, int ways, int hiddenSize = 200, int memorySlots = 128, int memoryWidth = 40, int readHeads = 4, double usageDecay = 0.95)
    {
        if (inputSize < 1 || ways < 2 || hiddenSize < 1 || memoryWidth < 1 || readHeads < 1 || memorySlots < readHeads)
            throw new ArgumentException($"a MANN needs positive sizes, at least 2 ways and at least as many memory slots as read heads (got input {inputSize}, ways {ways}, hidden {hiddenSize}, slots {memorySlots}, width {memoryWidth}, heads {readHeads}).");
        if (!(usageDecay is >= 0 and <= 1)) throw new ArgumentException($"the usage decay γ is in [0, 1] (got {usageDecay}).");
        (InputSize, Ways, HiddenSize, MemorySlots, MemoryWidth, ReadHeads, UsageDecay) = (inputSize, ways, hiddenSize, memorySlots, memoryWidth, readHeads, usageDecay);
        _usageDecay = usageDecay.ToScalar();
        int controllerInput = inputSize + ways + readHeads * memoryWidth;
        Layout = new ParameterLayout(LstmCell.Parameters("controller", controllerInput, hiddenSize).Concat(
        [
            ("key.weight", [readHeads * memoryWidth, hiddenSize]),
            ("key.bias", [readHeads * memoryWidth]),
            ("gate.weight", [readHeads, hiddenSize]),
            ("gate.bias", [readHeads]),
            ("out.weight", [ways, hiddenSize + readHeads * memoryWidth]),
            ("out.bias", [ways]),
        ]));
        HeadStart = Layout.Count - 2;
    }

    public int InputSize { get; }
    public int Ways { get; }
    public int HiddenSize { get; }
    public int MemorySlots { get; }
    public int MemoryWidth { get; }
    public int ReadHeads { get; }
    public double UsageDecay { get; }
    // γ as a Scalar held by the network, so none is made (and left to the finalizer) per step; see HeldScalars.
    private readonly Scalar _usageDecay;

    public string Name => $"mann-{HiddenSize}h-{MemorySlots}x{MemoryWidth}m-{ReadHeads}r";
    public ParameterLayout Layout { get; }
    public int HeadStart { get; }

    /// <summary>Each step depends on every earlier step of the sequence (memory), never on later ones.</summary>
    public bool UsesBatchStatistics => false;

    /// <summary>Controller state and read vectors per step, [steps, H + R·W], for a sequence [steps, inputSize + ways].</summary>
    public Tensor Embed(Tensor x, IReadOnlyList<Tensor> body) => Run(Start(x), x, body).Features;

    /// <summary>
    /// Everything a sequence carries from one step to the next: the controller's (h, c), the memory, its usage, the last
    /// read weights and reads, and the least-used slots. Prediction runs a shared prefix (the support set) once and
    /// continues from its state for each query — the same ops on the same values as running each whole sequence.
    /// </summary>
    public sealed record SequenceState(Tensor H, Tensor C, Tensor Memory, Tensor Usage, Tensor ReadWeights, Tensor LeastUsed, Tensor Reads);

    /// <summary>The state before the first step: zero controller and reads, the empty memory (in <paramref name="like"/>'s dtype and device).</summary>
    public SequenceState Start(Tensor like)
    {
        var (dtype, device) = (like.dtype, like.device);
        var usage = zeros(MemorySlots, dtype: dtype, device: device);
        return new SequenceState(
            H: zeros(1, HiddenSize, dtype: dtype, device: device),
            C: zeros(1, HiddenSize, dtype: dtype, device: device),
            Memory: LruMemory.Empty(MemorySlots, MemoryWidth, dtype, device),
            Usage: usage,
            ReadWeights: zeros(ReadHeads, MemorySlots, dtype: dtype, device: device),
            LeastUsed: LruMemory.LeastUsed(usage, ReadHeads),
            Reads: zeros(1, ReadHeads * MemoryWidth, dtype: dtype, device: device));
    }

    /// <summary>The steps of <paramref name="x"/> [steps, inputSize + ways] from <paramref name="state"/>: the state after them and each step's features.</summary>
    public (SequenceState State, Tensor Features) Run(SequenceState state, Tensor x, IReadOnlyList<Tensor> body)
    {
        if (x.dim() != 2 || x.shape[1] != InputSize + Ways)
            throw new ArgumentException($"{Name} reads a sequence shaped [steps, {InputSize + Ways}] (features and the previous label, one-hot); got [{string.Join(", ", x.shape)}].");
        var features = new Tensor[x.shape[0]];
        for (long t = 0; t < x.shape[0]; t++) (state, features[t]) = Step(state, x.narrow(0, t, 1), body);
        return (state, cat(features, 0));
    }

    private (SequenceState State, Tensor Features) Step(SequenceState s, Tensor input, IReadOnlyList<Tensor> body)
    {
        var (h, c) = LstmCell.Step(cat([input, s.Reads], 1), s.H, s.C, body[0], body[1], body[2]);
        var keys = F.linear(h, body[3], body[4]).tanh().reshape(ReadHeads, MemoryWidth);
        var gate = F.linear(h, body[5], body[6]).reshape(ReadHeads, 1);
        var writeWeights = LruMemory.WriteWeights(gate, s.ReadWeights, s.LeastUsed);
        var memory = LruMemory.Write(s.Memory, writeWeights, keys, s.LeastUsed);
        var (readWeights, read) = LruMemory.Read(memory, keys);
        var usage = LruMemory.Usage(s.Usage, readWeights, writeWeights, _usageDecay);
        var reads = read.reshape(1, ReadHeads * MemoryWidth);
        var next = new SequenceState(h, c, memory, usage, readWeights, LruMemory.LeastUsed(usage, ReadHeads), reads);
        return (next, cat([h, reads], 1));
    }

    public Tensor Head(Tensor features, IReadOnlyList<Tensor> head) => F.linear(features, head[0], head[1]);

    public ParameterSet Initialize(ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var parameters = new ParameterSet(Layout, new float[Layout.TotalCount]);
        LstmCell.Initialize(parameters, 0, HiddenSize, rng);
        // Key, gate and output layers as torch.nn.Linear: U(±1/√fan_in).
        for (int k = 3; k < Layout.Count; k++)
        {
            var info = Layout[k];
            int fanIn = (int)Layout[k % 2 == 1 ? k : k - 1].Shape[1];
            Initializers.Uniform(parameters.Values.AsSpan(info.Offset, info.Count), 1.0 / Math.Sqrt(fanIn), rng);
        }
        return parameters;
    }
}
