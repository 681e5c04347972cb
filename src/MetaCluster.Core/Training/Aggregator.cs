using MetaCluster.Core.Algorithms;

namespace MetaCluster.Core.Training;

/// <summary>
/// Turns a round's contributions into one mean vector with an <see cref="ExactSum"/>, whose result does not depend
/// on the order or grouping of the additions — so a round gives the same bits however many workers computed it,
/// whichever finished first, and whether workers pre-summed their shares. Every expected episode must be present
/// exactly once: a lost or double-counted episode is an error, never a silently different mean.
/// </summary>
public static class Aggregator
{
    public static float[] Mean(IReadOnlyCollection<Contribution> contributions, IReadOnlyCollection<long> expectedEpisodes)
    {
        var ordered = contributions.OrderBy(c => c.EpisodeIndex).ToArray();
        CheckEpisodes(ordered.Select(c => c.EpisodeIndex), expectedEpisodes);
        var sum = new ExactSum(ordered[0].Values.Length);
        foreach (var contribution in ordered) sum.Add(contribution.Values, $"episode {contribution.EpisodeIndex}");
        return sum.Mean();
    }

    /// <summary>The mean from workers' pre-summed shares: the same bits as <see cref="Mean(IReadOnlyCollection{Contribution}, IReadOnlyCollection{long})"/> on their episodes.</summary>
    public static float[] Mean(IReadOnlyCollection<PartialSum> shares, IReadOnlyCollection<long> expectedEpisodes)
    {
        var mean = new float[shares.First().Sum.Length];
        MeanInto(shares, expectedEpisodes, mean);
        return mean;
    }

    /// <summary><see cref="Mean(IReadOnlyCollection{PartialSum}, IReadOnlyCollection{long})"/> written into <paramref name="mean"/>.</summary>
    public static void MeanInto(IReadOnlyCollection<PartialSum> shares, IReadOnlyCollection<long> expectedEpisodes, Span<float> mean)
    {
        CheckEpisodes(shares.SelectMany(s => s.Episodes), expectedEpisodes);
        foreach (var share in shares)
            if (share.Sum.Count != share.Episodes.Length)
                throw new InvalidOperationException($"a partial sum names {share.Episodes.Length} episodes but holds {share.Sum.Count} contributions.");
        // One share (a cluster round arrives summed): its mean is the total's, with no copy of 8 bytes a parameter.
        if (shares.Count == 1)
        {
            shares.First().Sum.MeanInto(mean);
            return;
        }
        var total = new ExactSum(shares.First().Sum.Length);
        foreach (var share in shares) total.Add(share.Sum);
        total.MeanInto(mean);
    }

    private static void CheckEpisodes(IEnumerable<long> present, IReadOnlyCollection<long> expectedEpisodes)
    {
        var have = present.Order().ToArray();
        var expected = expectedEpisodes.Order().ToArray();
        if (!have.SequenceEqual(expected))
        {
            var missing = expected.Except(have).Take(5).ToArray();
            var duplicated = have.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToArray();
            var unexpected = have.Except(expected).Take(5).ToArray();
            throw new InvalidOperationException(
                $"a round expects episodes {Describe(expected)} exactly once; missing [{string.Join(", ", missing)}], " +
                $"duplicated [{string.Join(", ", duplicated)}], unexpected [{string.Join(", ", unexpected)}].");
        }
        if (have.Length == 0) throw new InvalidOperationException("cannot aggregate a round with no episodes.");
    }

    private static string Describe(long[] indices) =>
        indices.Length == 0 ? "[]" : indices.Length <= 6 ? $"[{string.Join(", ", indices)}]" : $"[{indices[0]}..{indices[^1]}] ({indices.Length})";
}
