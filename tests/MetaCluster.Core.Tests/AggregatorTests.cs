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

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void WorkersPreSummedSharesGiveTheBitsOfTheEpisodes(int workers)
    {
        var contributions = Contributions(25, 301);
        var expected = contributions.Select(c => c.EpisodeIndex).ToArray();
        var reference = Aggregator.Mean(contributions, expected);
        // Deal the episodes round-robin, as the dispatcher does, and send each share through the wire form.
        var shares = Enumerable.Range(0, workers)
            .Select(w => PartialSum.Of(contributions.Where((_, i) => i % workers == w).Select(c => (c.EpisodeIndex, c.Values)).ToArray(), 301))
            .Select(s => new PartialSum(s.Episodes, ExactSum.FromBytes(s.Sum.ToBytes())))
            .Reverse().ToArray();
        Assert.Equal(reference, Aggregator.Mean(shares, expected));
    }

    [Fact]
    public void SharesThatMissOrRepeatAnEpisodeAreAnError()
    {
        var contributions = Contributions(4, 3);
        var expected = contributions.Select(c => c.EpisodeIndex).ToArray();
        var first = PartialSum.Of(contributions[..2].Select(c => (c.EpisodeIndex, c.Values)).ToArray(), 3);
        var second = PartialSum.Of(contributions[1..3].Select(c => (c.EpisodeIndex, c.Values)).ToArray(), 3);
        var error = Assert.Throws<InvalidOperationException>(() => Aggregator.Mean([first, second], expected));
        Assert.Contains("missing [13]", error.Message);
        Assert.Contains("duplicated [11]", error.Message);
        var lying = new PartialSum([.. first.Episodes, 12], first.Sum);
        var third = PartialSum.Of(contributions[3..].Select(c => (c.EpisodeIndex, c.Values)).ToArray(), 3);
        Assert.Contains("names 3 episodes but holds 2", Assert.Throws<InvalidOperationException>(() => Aggregator.Mean([lying, third], expected)).Message);
    }
}
