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
}
