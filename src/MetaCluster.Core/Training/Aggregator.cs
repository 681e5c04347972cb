using MetaCluster.Core.Algorithms;

namespace MetaCluster.Core.Training;

/// <summary>
/// Turns a round's contributions into one mean vector. Contributions are summed in episode-index order, in double
/// precision, whatever order they arrived in — so a round gives the same bits however many workers computed it and
/// whichever finished first. Every expected episode must be present exactly once: a lost or double-counted episode
/// is an error, never a silently different mean.
/// </summary>
public static class Aggregator
{
    public static float[] Mean(IReadOnlyCollection<Contribution> contributions, IReadOnlyCollection<long> expectedEpisodes)
    {
        var ordered = contributions.OrderBy(c => c.EpisodeIndex).ToArray();
        var expected = expectedEpisodes.Order().ToArray();
        if (!ordered.Select(c => c.EpisodeIndex).SequenceEqual(expected))
        {
            var have = ordered.Select(c => c.EpisodeIndex).ToArray();
            var missing = expected.Except(have).Take(5).ToArray();
            var duplicated = have.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key).Take(5).ToArray();
            var unexpected = have.Except(expected).Take(5).ToArray();
            throw new InvalidOperationException(
                $"a round expects episodes {Describe(expected)} exactly once; missing [{string.Join(", ", missing)}], " +
                $"duplicated [{string.Join(", ", duplicated)}], unexpected [{string.Join(", ", unexpected)}].");
        }
        if (ordered.Length == 0) throw new InvalidOperationException("cannot aggregate a round with no episodes.");
        int length = ordered[0].Values.Length;
        var sum = new double[length];
        foreach (var contribution in ordered)
        {
            if (contribution.Values.Length != length)
                throw new InvalidOperationException($"episode {contribution.EpisodeIndex} sent {contribution.Values.Length} values, the others {length}.");
            var values = contribution.Values;
            for (int i = 0; i < length; i++) sum[i] += values[i];
        }
        var mean = new float[length];
        double scale = 1.0 / ordered.Length;
        for (int i = 0; i < length; i++)
        {
            double m = sum[i] * scale;
            if (!double.IsFinite(m))
                throw new InvalidOperationException($"the round's mean contribution is not finite at parameter {i} ({m}); lower the learning rates.");
            mean[i] = (float)m;
        }
        return mean;
    }

    private static string Describe(long[] indices) =>
        indices.Length == 0 ? "[]" : indices.Length <= 6 ? $"[{string.Join(", ", indices)}]" : $"[{indices[0]}..{indices[^1]}] ({indices.Length})";
}
