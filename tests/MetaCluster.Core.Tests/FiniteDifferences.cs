using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Central differences of a scalar function of several float64 tensors, against autograd's gradients.</summary>
internal static class FiniteDifferences
{
    /// <summary>Checks every coordinate of every input: ‖g − g_fd‖ / ‖g_fd‖ below <paramref name="tolerance"/>.</summary>
    public static void AssertMatches(Tensor[] inputs, IReadOnlyList<Tensor> analytic, Func<Tensor[], double> objective, double tolerance, double h = 1e-6)
    {
        // The inputs as one flat θ (and the gradients alike), so the sampled check in GradientCheck does the arithmetic.
        static double[] Flat(IEnumerable<Tensor> tensors) => tensors.SelectMany(t => t.detach().reshape(-1).data<double>().ToArray()).ToArray();
        var theta = Flat(inputs);
        double Objective(double[] values)
        {
            using var scope = NewDisposeScope();
            int offset = 0;
            var tensors = inputs.Select(t =>
            {
                int count = checked((int)t.numel());
                var copy = tensor(values[offset..(offset + count)], t.shape, dtype: t.dtype);
                offset += count;
                return copy;
            }).ToArray();
            return objective(tensors);
        }
        double error = GradientCheck.RelativeError(theta, Flat(analytic), Objective, Enumerable.Range(0, theta.Length), h);
        Assert.True(error < tolerance, $"relative error {error:E2} ≥ {tolerance:E0}");
    }
}
