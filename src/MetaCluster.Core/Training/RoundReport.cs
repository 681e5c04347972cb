using MetaCluster.Core.Algorithms;

namespace MetaCluster.Core.Training;

/// <summary>What one round (meta-iteration) did.</summary>
public sealed record RoundReport(
    long Round, int Episodes, double Seconds, double LearningRate,
    double? PreLoss, double PostLoss, double? PreAccuracy, double? PostAccuracy)
{
    public static RoundReport From(long round, double seconds, double learningRate, IReadOnlyCollection<EpisodeMetrics> episodes)
    {
        double? Mean(Func<EpisodeMetrics, double?> pick) =>
            episodes.Select(pick).Any(v => v is null) ? null : episodes.Average(m => pick(m)!.Value);
        return new RoundReport(round, episodes.Count, seconds, learningRate,
            Mean(m => m.PreLoss), Mean(m => m.PostLoss)!.Value, Mean(m => m.PreAccuracy), Mean(m => m.PostAccuracy));
    }
}
