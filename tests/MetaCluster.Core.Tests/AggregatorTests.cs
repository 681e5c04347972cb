using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class AggregatorTests
{
    private static readonly EpisodeMetrics Metrics = new(0, 0, null, null);

    private static Contribution[] Contributions(int count, int length)
    {
        var rng = new Episodes.DeterministicRandom(5);
        return Enumerable.Range(0, count).Select(i => new Contribution(10 + i,
            Enumerable.Range(0, length).Select(_ => (float)rng.NextDouble(-1e3, 1e3) * (float)Math.Pow(10, rng.NextInt(8) - 4)).ToArray(), Metrics)).ToArray();
    }

    [Fact]
    public void TheMeanDoesNotDependOnArrivalOrder()
    {
        var contributions = Contributions(32, 257);
        var expected = contributions.Select(c => c.EpisodeIndex).ToArray();
        var reference = Aggregator.Mean(contributions, expected);
        var rng = new Episodes.DeterministicRandom(1);
        for (int trial = 0; trial < 5; trial++)
        {
            var shuffled = contributions.OrderBy(_ => rng.NextUInt64()).ToArray();
            Assert.Equal(reference, Aggregator.Mean(shuffled, expected.Reverse().ToArray()));
        }
        for (int i = 0; i < 257; i++)
            Assert.Equal(contributions.Sum(c => (double)c.Values[i]) / 32, reference[i], Math.Abs(reference[i]) * 1e-6 + 1e-11);
    }

    [Fact]
    public void AMissingOrDuplicatedEpisodeIsAnError()
    {
        var contributions = Contributions(4, 3);
        var expected = contributions.Select(c => c.EpisodeIndex).ToArray();
        var missing = Assert.Throws<InvalidOperationException>(() => Aggregator.Mean(contributions[..3], expected));
        Assert.Contains("missing [13]", missing.Message);
        var duplicated = Assert.Throws<InvalidOperationException>(() => Aggregator.Mean([.. contributions, contributions[1]], expected));
        Assert.Contains("duplicated [11]", duplicated.Message);
    }

    [Fact]
    public void ANonFiniteMeanIsReportedNotApplied()
    {
        var bad = new Contribution(4, [1f, float.NaN], Metrics);
        var error = Assert.Throws<OverflowException>(() => Aggregator.Mean([bad], [4L]));
        Assert.Contains("episode 4", error.Message);
        Assert.Contains("non-finite", error.Message);
    }
}
