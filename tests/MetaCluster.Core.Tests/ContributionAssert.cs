using MetaCluster.Core.Algorithms;

namespace MetaCluster.Core.Tests;

/// <summary>Compares the contributions of two runs of the same episodes, e.g. task-batched against one at a time.</summary>
internal static class ContributionAssert
{
    /// <summary>Same indices, each episode's vector within <paramref name="relative"/> (L2, relative to the expected one), same metrics to 1e-4.</summary>
    public static void Close(IReadOnlyList<Contribution> expected, IReadOnlyList<Contribution> actual, double relative = 1e-5)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int e = 0; e < expected.Count; e++)
        {
            Assert.Equal(expected[e].EpisodeIndex, actual[e].EpisodeIndex);
            double diff = 0, norm = 0;
            for (int i = 0; i < expected[e].Values.Length; i++)
            {
                double d = expected[e].Values[i] - actual[e].Values[i];
                diff += d * d;
                norm += (double)expected[e].Values[i] * expected[e].Values[i];
            }
            Assert.True(norm > 0, $"episode {e}: the expected contribution is zero, so the comparison says nothing");
            double r = Math.Sqrt(diff / norm);
            Assert.True(r <= relative, $"episode {e}: relative difference {r:E2}");
            var (x, y) = (expected[e].Metrics, actual[e].Metrics);
            Assert.Equal(x.PostLoss, y.PostLoss, 1e-4);
            Assert.Equal(x.PreLoss.HasValue, y.PreLoss.HasValue);
            if (x.PreLoss.HasValue) Assert.Equal(x.PreLoss.Value, y.PreLoss!.Value, 1e-4);
            Assert.Equal(x.PostAccuracy, y.PostAccuracy);
            Assert.Equal(x.PreAccuracy, y.PreAccuracy);
        }
    }
}
