using MetaCluster.Core.Algorithms;

namespace MetaCluster.Core.Training;

/// <summary>
/// A worker's pre-summed share of a round: the exact sum of the contributions of <see cref="Episodes"/>. Because an
/// <see cref="ExactSum"/> gives the same bits for any grouping, adding shares gives the bits of adding every episode.
/// </summary>
public sealed record PartialSum(long[] Episodes, ExactSum Sum)
{
    /// <summary>Sums per-episode vectors into one share (what a worker sends instead of the vectors).</summary>
    public static PartialSum Of(IReadOnlyList<(long Episode, float[] Values)> contributions, int length)
    {
        var sum = new ExactSum(length);
        foreach (var (episode, values) in contributions) sum.Add(values, $"episode {episode}");
        return new PartialSum(contributions.Select(c => c.Episode).ToArray(), sum);
    }

    /// <summary>
    /// Sums the contributions <paramref name="contribute"/> hands to its sink as they are computed (no vector kept per
    /// episode) into <paramref name="sum"/>, which must be empty; returns the share and each episode's metrics in order.
    /// </summary>
    public static (PartialSum Share, List<(long Episode, EpisodeMetrics Metrics)> Episodes) Collect(ExactSum sum, Action<ContributionSink> contribute)
    {
        if (sum.Count != 0) throw new ArgumentException("collect into an empty sum (call Clear first).");
        var episodes = new List<(long, EpisodeMetrics)>();
        contribute((episode, values, metrics) =>
        {
            sum.Add(values, $"episode {episode}");
            episodes.Add((episode, metrics));
        });
        return (new PartialSum(episodes.Select(e => e.Item1).ToArray(), sum), episodes);
    }
}
