using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>Mean and 95% confidence half-width (1.96·σ/√n, σ the sample standard deviation), as the MAML paper reports.</summary>
public sealed record MeanCi(double Mean, double Ci95)
{
    public static MeanCi Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("the mean of no values is undefined.");
        double mean = values.Average();
        double variance = values.Count > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) : 0;
        return new MeanCi(mean, 1.96 * Math.Sqrt(variance) / Math.Sqrt(values.Count));
    }
}

/// <summary>One episode's query loss and (classification) accuracy after adaptation.</summary>
public readonly record struct EpisodeScore(double Loss, double? Accuracy)
{
    /// <summary>
    /// An episode <em>diverged</em> when its query loss or accuracy after adaptation is not finite (NaN or ±∞): the
    /// inner steps blew the adapted parameters up, usually because the inner learning rate is too large for that
    /// task. A large but finite loss is a (bad) result, not a divergence.
    /// </summary>
    public bool Diverged => !double.IsFinite(Loss) || Accuracy is { } a && !double.IsFinite(a);
}

/// <summary>
/// Held-out performance after adapting θ with a given number of inner steps. <see cref="Loss"/> and
/// <see cref="Accuracy"/> are the mean ± 95% CI over the <see cref="Finite"/> episodes that did not diverge
/// (<see cref="EpisodeScore.Diverged"/>); <see cref="Diverged"/> counts the others. When every episode diverged there
/// is no mean: <see cref="Loss"/> and <see cref="Accuracy"/> are null. <see cref="HasAccuracy"/>: the episodes are
/// scored by accuracy too (classification), whether or not any stayed finite.
/// </summary>
public sealed record EvaluationReport(int Episodes, int Steps, BatchNormMode BatchNorm, MeanCi? Loss, MeanCi? Accuracy, int Diverged, bool HasAccuracy)
{
    public int Finite => Episodes - Diverged;

    /// <summary>
    /// For sequence learners (mann): accuracy over every step that was the n-th presentation of its class, for the
    /// instances of Santoro et al.'s table (1st, 2nd, 3rd, 5th, 10th) that the episodes reached; null otherwise.
    /// </summary>
    public IReadOnlyDictionary<int, double>? ByInstance { get; init; }
    public bool AllDiverged => Diverged == Episodes;
}

/// <summary>Adapts θ on each of E held-out episodes and scores the query sets.</summary>
public static class Evaluator
{
    public static EvaluationReport Evaluate(MetaAlgorithm algorithm, ParameterSet theta, EpisodeStream episodes,
        int count, int steps, BatchNormMode mode)
    {
        if (count < 1) throw new ArgumentException($"evaluation needs at least one episode (got {count}).");
        var scores = new List<EpisodeScore>(count);
        var presentations = algorithm is Mann ? new List<(int Instance, bool Correct)>() : null;
        for (long i = 0; i < count; i++)
        {
            using var episode = episodes.Sample(i);
            var (loss, accuracy) = algorithm.Evaluate(theta, episode, steps, mode);
            scores.Add(new EpisodeScore(loss, accuracy));
            presentations?.AddRange(((Mann)algorithm).ByInstance(theta, episode));
        }
        var report = Summarize(scores, steps, mode);
        return presentations is null ? report : report with { ByInstance = ByInstance(presentations) };
    }

    /// <summary>The instances Santoro et al. report.</summary>
    public static readonly int[] ReportedInstances = [1, 2, 3, 5, 10];

    /// <summary>Accuracy per reported instance over all the presentations given (instances never reached are left out).</summary>
    public static IReadOnlyDictionary<int, double> ByInstance(IReadOnlyList<(int Instance, bool Correct)> presentations)
    {
        var result = new SortedDictionary<int, double>();
        foreach (int instance in ReportedInstances)
        {
            var at = presentations.Where(p => p.Instance == instance).ToArray();
            if (at.Length > 0) result[instance] = at.Count(p => p.Correct) / (double)at.Length;
        }
        return result;
    }

    /// <summary>
    /// The report of a list of episode scores: mean ± 95% CI of the loss (and of the accuracy, when every episode has
    /// one) over the episodes that did not diverge, and how many did. One NaN must not turn the mean into NaN, and
    /// leaving the diverged episodes out silently would flatter the result, so both are reported.
    /// </summary>
    public static EvaluationReport Summarize(IReadOnlyList<EpisodeScore> scores, int steps, BatchNormMode mode)
    {
        if (scores.Count < 1) throw new ArgumentException("evaluation needs at least one episode.");
        var finite = scores.Where(s => !s.Diverged).ToArray();
        int diverged = scores.Count - finite.Length;
        bool classification = scores.All(s => s.Accuracy is not null);
        if (finite.Length == 0) return new EvaluationReport(scores.Count, steps, mode, null, null, diverged, classification);
        return new EvaluationReport(scores.Count, steps, mode,
            MeanCi.Of(finite.Select(s => s.Loss).ToArray()),
            classification ? MeanCi.Of(finite.Select(s => s.Accuracy!.Value).ToArray()) : null,
            diverged, classification);
    }
}
