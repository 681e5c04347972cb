using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Central differences of a scalar function of several float64 tensors, against autograd's gradients.</summary>
internal static class FiniteDifferences
{
    /// <summary>Checks every coordinate of every input: ‖g − g_fd‖ / ‖g_fd‖ below <paramref name="tolerance"/>.</summary>
    public static void AssertMatches(Tensor[] inputs, IReadOnlyList<Tensor> analytic, Func<Tensor[], double> objective, double tolerance, double h = 1e-6)
    {
        double diff = 0, norm = 0;
        var copies = inputs.Select(t => t.detach().clone()).ToArray();
        for (int k = 0; k < copies.Length; k++)
        {
            var flat = copies[k].view(-1);
            var gradient = analytic[k].detach().reshape(-1).data<double>().ToArray();
            for (long i = 0; i < flat.shape[0]; i++)
            {
                double original = flat[i].item<double>();
                flat[i] = original + h;
                double plus = objective(copies);
                flat[i] = original - h;
                double minus = objective(copies);
                flat[i] = original;
                double numeric = (plus - minus) / (2 * h);
                diff += (gradient[i] - numeric) * (gradient[i] - numeric);
                norm += numeric * numeric;
            }
        }
        Assert.True(norm > 1e-12, "the finite-difference gradient is zero: the check would be vacuous");
        double error = Math.Sqrt(diff / norm);
        Assert.True(error < tolerance, $"relative error {error:E2} ≥ {tolerance:E0}");
    }
}
