using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Central finite differences of the post-adaptation query loss, in float64.</summary>
internal static class GradientCheck
{
    /// <summary>The meta-objective J(θ): query loss after the algorithm's inner loop, evaluated in float64.</summary>
    public static double Objective(MetaAlgorithm algorithm, double[] theta, ParameterLayout layout, Episode episode64)
    {
        using var scope = NewDisposeScope();
        var leaves = ToTensors(theta, layout);
        var adapted = algorithm.Adapt(leaves, episode64, algorithm.Options.InnerSteps);
        var output = algorithm.Predict(adapted, episode64, BatchNormMode.Transductive);
        return TaskLoss.Loss(output, episode64.QueryY, episode64.Kind).item<double>();
    }

    /// <summary>The algorithm's own contribution for θ (float64 throughout).</summary>
    public static double[] Analytic(MetaAlgorithm algorithm, double[] theta, ParameterLayout layout, Episode episode64)
    {
        using var scope = NewDisposeScope();
        var outcome = algorithm.Compute(ToTensors(theta, layout), episode64);
        return cat(outcome.Contribution.Select(t => t.detach().reshape(-1)).ToArray(), 0).data<double>().ToArray();
    }

    /// <summary>Relative error ‖g − g_fd‖ / ‖g_fd‖ over the sampled coordinates.</summary>
    /// <param name="candidates">the coordinates to sample from (e.g. only the learned rates); all of θ when null.</param>
    public static double RelativeError(MetaAlgorithm algorithm, ParameterSet theta32, Episode episode, int coordinates, ulong seed, double h = 1e-6,
        IReadOnlyList<int>? candidates = null)
    {
        using var episode64 = episode.To(ScalarType.Float64);
        var theta = theta32.Values.Select(v => (double)v).ToArray();
        var analytic = Analytic(algorithm, theta, theta32.Layout, episode64);
        var rng = new DeterministicRandom(seed);
        var pool = candidates ?? Enumerable.Range(0, theta.Length).ToArray();
        var picks = coordinates >= pool.Count ? pool.ToArray() : rng.SampleWithoutReplacement(pool.Count, coordinates).Select(k => pool[k]).ToArray();
        return RelativeError(theta, analytic, values => Objective(algorithm, values, theta32.Layout, episode64), picks, h);
    }

    /// <summary>
    /// Relative error ‖g − g_fd‖ / ‖g_fd‖ of <paramref name="analytic"/> against central differences of
    /// <paramref name="objective"/> at <paramref name="theta"/>, over the coordinates <paramref name="picks"/> (θ is restored).
    /// </summary>
    public static double RelativeError(double[] theta, double[] analytic, Func<double[], double> objective, IEnumerable<int> picks, double h = 1e-6)
    {
        double diff = 0, norm = 0;
        foreach (int i in picks)
        {
            double original = theta[i];
            theta[i] = original + h;
            double plus = objective(theta);
            theta[i] = original - h;
            double minus = objective(theta);
            theta[i] = original;
            double numeric = (plus - minus) / (2 * h);
            diff += (analytic[i] - numeric) * (analytic[i] - numeric);
            norm += numeric * numeric;
        }
        Assert.True(norm > 1e-12, "the finite-difference gradient is zero: the check would be vacuous");
        return Math.Sqrt(diff / norm);
    }

    public static Tensor[] ToTensors(double[] values, ParameterLayout layout) =>
        layout.Parameters.Select(p => tensor(values[p.Offset..(p.Offset + p.Count)], p.Shape, dtype: ScalarType.Float64).requires_grad_()).ToArray();
}
