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
        Assert.Equal((float)(contributions.Sum(c => (double)c.Values[3]) / 32), reference[3]);
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
        var bad = new Contribution(0, [1f, float.NaN], Metrics);
        var error = Assert.Throws<InvalidOperationException>(() => Aggregator.Mean([bad], [0L]));
        Assert.Contains("not finite", error.Message);
    }
}
