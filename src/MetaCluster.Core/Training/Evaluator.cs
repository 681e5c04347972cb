using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>Mean and 95% confidence half-width (1.96·σ/√n, σ the sample standard deviation), as the MAML paper reports.</summary>
public sealed record MeanCi(double Mean, double Ci95)
{
    public static MeanCi Of(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        double variance = values.Count > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) : 0;
        return new MeanCi(mean, 1.96 * Math.Sqrt(variance) / Math.Sqrt(values.Count));
    }
}

/// <summary>Held-out performance after adapting θ with a given number of inner steps.</summary>
public sealed record EvaluationReport(int Episodes, int Steps, BatchNormMode BatchNorm, MeanCi Loss, MeanCi? Accuracy);

/// <summary>Adapts θ on each of E held-out episodes and scores the query sets.</summary>
public static class Evaluator
{
    public static EvaluationReport Evaluate(MetaAlgorithm algorithm, ParameterSet theta, EpisodeStream episodes,
        int count, int steps, BatchNormMode mode)
    {
        if (count < 1) throw new ArgumentException($"evaluation needs at least one episode (got {count}).");
        var losses = new List<double>(count);
        var accuracies = new List<double>(count);
        for (long i = 0; i < count; i++)
        {
            using var episode = episodes.Sample(i);
            var (loss, accuracy) = algorithm.Evaluate(theta, episode, steps, mode);
            losses.Add(loss);
            if (accuracy is { } a) accuracies.Add(a);
        }
        return new EvaluationReport(count, steps, mode, MeanCi.Of(losses), accuracies.Count == count ? MeanCi.Of(accuracies) : null);
    }
}
