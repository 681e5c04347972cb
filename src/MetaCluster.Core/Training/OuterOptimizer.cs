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
    void Step(float[] theta, ReadOnlySpan<float> gradient, double learningRate);
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

    public void Step(float[] theta, ReadOnlySpan<float> gradient, double learningRate)
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

    public void Step(float[] theta, ReadOnlySpan<float> gradient, double learningRate)
    {
        if (gradient.Length != theta.Length || theta.Length != _m.Length)
            throw new ArgumentException($"Adam holds state for {_m.Length} parameters; got θ of {theta.Length} and a gradient of {gradient.Length}.");
        _step++;
        float b1 = (float)Beta1, b2 = (float)Beta2;
        double biasCorrection1 = 1 - Math.Pow(Beta1, _step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, _step));
        float stepSize = (float)(learningRate / biasCorrection1);
        for (int i = 0; i < theta.Length; i++)
        {
            float g = gradient[i];
            _m[i] = b1 * _m[i] + (1 - b1) * g;
            _v[i] = b2 * _v[i] + (1 - b2) * g * g;
            float denominator = (float)(MathF.Sqrt(_v[i]) / biasCorrection2Sqrt + Epsilon);
            theta[i] -= stepSize * _m[i] / denominator;
        }
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
