using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class AdamOptimizerTests
{
    [Fact]
    public void EveryParameterGetsTheBitsOfAdamsFormulaOneValueAtATime()
    {
        // 1,037 parameters: whole vectors and a scalar tail, whatever the vector width. Gradients from 1e-9 to 10, both signs.
        const int count = 1037;
        var rng = new DeterministicRandom(3);
        var theta = Enumerable.Range(0, count).Select(_ => (float)rng.NextDouble(-1, 1)).ToArray();
        var expected = (float[])theta.Clone();
        var (m, v) = (new float[count], new float[count]);
        var adam = new AdamOptimizer(count);
        for (int step = 1; step <= 5; step++)
        {
            var gradient = Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(10, rng.NextInt(11) - 9))).ToArray();
            double learningRate = 0.001 * step;
            adam.Step(theta, gradient, learningRate);
            // Kingma & Ba's update as written, one parameter at a time: m, v in float32; the bias corrections in double.
            double correction1 = 1 - Math.Pow(0.9, step), correction2Sqrt = Math.Sqrt(1 - Math.Pow(0.999, step));
            float stepSize = (float)(learningRate / correction1);
            for (int i = 0; i < count; i++)
            {
                m[i] = 0.9f * m[i] + (1 - 0.9f) * gradient[i];
                v[i] = 0.999f * v[i] + (1 - 0.999f) * gradient[i] * gradient[i];
                expected[i] -= stepSize * m[i] / (float)(MathF.Sqrt(v[i]) / correction2Sqrt + 1e-8);
            }
            for (int i = 0; i < count; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(theta[i]),
                    $"step {step}, parameter {i}: {theta[i]:R}, expected {expected[i]:R}");
        }
        var state = adam.GetState();
        Assert.Equal(m, state.Vectors["m"]);
        Assert.Equal(v, state.Vectors["v"]);
    }
}
