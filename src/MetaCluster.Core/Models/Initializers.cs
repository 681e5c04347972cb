using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Models;

/// <summary>
/// Parameter initialisation done in C# from <see cref="DeterministicRandom"/> rather than torch's generator, so the
/// initial θ is the same bits on every machine and libtorch version. The distributions are PyTorch's defaults.
/// </summary>
public static class Initializers
{
    /// <summary>U(−bound, bound).</summary>
    public static void Uniform(Span<float> target, double bound, DeterministicRandom rng)
    {
        for (int i = 0; i < target.Length; i++) target[i] = (float)rng.NextDouble(-bound, bound);
    }

    /// <summary>Glorot/Xavier uniform: bound = √(6 / (fan_in + fan_out)).</summary>
    public static void XavierUniform(Span<float> target, int fanIn, int fanOut, DeterministicRandom rng) =>
        Uniform(target, Math.Sqrt(6.0 / (fanIn + fanOut)), rng);

    /// <summary>Standard normal (Box–Muller), as torch.randn.</summary>
    public static void StandardNormal(Span<float> target, DeterministicRandom rng)
    {
        for (int i = 0; i < target.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(); // (0, 1]: log is finite
            double u2 = rng.NextDouble();
            target[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
    }

    public static void Fill(Span<float> target, float value) => target.Fill(value);
}
