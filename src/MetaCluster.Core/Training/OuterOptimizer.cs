using System.Numerics;

namespace MetaCluster.Core.Training;

/// <summary>Optimizer state as named vectors and a step count: what a checkpoint needs to resume exactly.</summary>
public sealed record OptimizerState(string Optimizer, long Step, IReadOnlyDictionary<string, float[]> Vectors);

/// <summary>
/// The outer (meta) optimizer, applied to the flat θ with the round's mean meta-gradient. Deterministic C# loops
/// over float32, so the update is the same bits everywhere.
/// </summary>
public interface IOuterOptimizer
{
    string Name { get; }
    void Step(Span<float> theta, ReadOnlySpan<float> gradient, double learningRate);
    OptimizerState GetState();
    void SetState(OptimizerState state);
}

public static class OuterOptimizers
{
    public static IOuterOptimizer Create(string name, int parameterCount) => name switch
    {
        "adam" => new AdamOptimizer(parameterCount),
        "sgd" => new SgdOptimizer(),
        _ => throw new ArgumentException($"unknown outer optimizer '{name}'; use adam or sgd."),
    };
}

/// <summary>Plain SGD: θ ← θ − lr·g. With Reptile's g = −mean(θ' − θ) this is θ ← θ + ε·mean(θ' − θ).</summary>
public sealed class SgdOptimizer : IOuterOptimizer
{
    private long _step;
    public string Name => "sgd";

    public void Step(Span<float> theta, ReadOnlySpan<float> gradient, double learningRate)
    {
        float lr = (float)learningRate;
        for (int i = 0; i < theta.Length; i++) theta[i] -= lr * gradient[i];
        _step++;
    }

    public OptimizerState GetState() => new(Name, _step, new Dictionary<string, float[]>());

    public void SetState(OptimizerState state)
    {
        if (state.Optimizer != Name) throw new ArgumentException($"cannot resume sgd from {state.Optimizer} state.");
        _step = state.Step;
    }
}

/// <summary>Adam (Kingma & Ba 2015) with PyTorch's defaults and update order (β = 0.9, 0.999; ε = 1e-8).</summary>
public sealed class AdamOptimizer(int parameterCount) : IOuterOptimizer
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
    private float[] _m = new float[parameterCount], _v = new float[parameterCount];
    private long _step;

    public string Name => "adam";

    public void Step(Span<float> theta, ReadOnlySpan<float> gradient, double learningRate)
    {
        if (gradient.Length != theta.Length || theta.Length != _m.Length)
            throw new ArgumentException($"Adam holds state for {_m.Length} parameters; got θ of {theta.Length} and a gradient of {gradient.Length}.");
        _step++;
        float b1 = (float)Beta1, b2 = (float)Beta2;
        double biasCorrection1 = 1 - Math.Pow(Beta1, _step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, _step));
        float stepSize = (float)(learningRate / biasCorrection1);
        // Vectors first, the same operations in the same order as the scalar loop below (IEEE float and double lanes,
        // no fused multiply-add): the same bits, in a quarter of the time — the step sits between a round's last reply
        // and the next round's dispatch, so every worker waits on it.
        int i = VectorStep(theta, gradient, b1, b2, stepSize, biasCorrection2Sqrt);
        for (; i < theta.Length; i++)
        {
            float g = gradient[i];
            _m[i] = b1 * _m[i] + (1 - b1) * g;
            _v[i] = b2 * _v[i] + (1 - b2) * g * g;
            float denominator = (float)(MathF.Sqrt(_v[i]) / biasCorrection2Sqrt + Epsilon);
            theta[i] -= stepSize * _m[i] / denominator;
        }
    }

    /// <summary>The scalar loop's step for whole vectors of parameters; returns where the scalar loop takes over.</summary>
    private int VectorStep(Span<float> theta, ReadOnlySpan<float> gradient, float b1, float b2, float stepSize, double biasCorrection2Sqrt)
    {
        if (!Vector.IsHardwareAccelerated) return 0;
        Span<float> m = _m, v = _v;
        var (decay1, decay2, rest1, rest2) = (new Vector<float>(b1), new Vector<float>(b2), new Vector<float>(1 - b1), new Vector<float>(1 - b2));
        var (step, correction, epsilon) = (new Vector<float>(stepSize), new Vector<double>(biasCorrection2Sqrt), new Vector<double>(Epsilon));
        int i = 0;
        for (; i <= theta.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var g = new Vector<float>(gradient.Slice(i));
            var mi = decay1 * new Vector<float>(m.Slice(i)) + rest1 * g;
            var vi = decay2 * new Vector<float>(v.Slice(i)) + rest2 * g * g;
            mi.CopyTo(m.Slice(i));
            vi.CopyTo(v.Slice(i));
            Vector.Widen(Vector.SquareRoot(vi), out var low, out var high);
            var denominator = Vector.Narrow(low / correction + epsilon, high / correction + epsilon);
            (new Vector<float>(theta.Slice(i)) - step * mi / denominator).CopyTo(theta.Slice(i));
        }
        return i;
    }

    public OptimizerState GetState() =>
        new(Name, _step, new Dictionary<string, float[]> { ["m"] = (float[])_m.Clone(), ["v"] = (float[])_v.Clone() });

    public void SetState(OptimizerState state)
    {
        if (state.Optimizer != Name) throw new ArgumentException($"cannot resume adam from {state.Optimizer} state.");
        if (!state.Vectors.TryGetValue("m", out var m) || !state.Vectors.TryGetValue("v", out var v) || m.Length != _m.Length || v.Length != _v.Length)
            throw new ArgumentException($"the adam state does not match a model of {_m.Length} parameters.");
        _m = (float[])m.Clone();
        _v = (float[])v.Clone();
        _step = state.Step;
    }
}
