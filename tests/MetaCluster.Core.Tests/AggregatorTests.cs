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

    /// <summary>
    /// Contributions whose float32 running sum depends on the order of the additions: at 2²² a float's spacing is
    /// 0.5, so 2²² + 0.25 rounds back to 2²² (ties to even) while 0.25 + 0.25 = 0.5 survives; likewise 1 + 2⁻²⁴ = 1.
    /// Lane 0 sums exactly to 1 and lane 1 to 2⁻²², and every value is a multiple of 2⁻⁴⁰, so the exact mean
    /// (1/6 and 2⁻²²/6, rounded once to float) is what the aggregator must return.
    /// </summary>
    private const float Tiny = 5.9604644775390625e-8f; // 2⁻²⁴, half the float spacing at 1
    private static readonly float[][] OrderSensitive =
    [
        [4194304f, 1f], [0.25f, Tiny], [0.25f, Tiny], [0.25f, Tiny], [0.25f, Tiny], [-4194304f, -1f],
    ];

    private static IEnumerable<int[]> Permutations(int[] items) => items.Length <= 1
        ? [items]
        : items.SelectMany((first, i) => Permutations([.. items[..i], .. items[(i + 1)..]]).Select(rest => (int[])[first, .. rest]));

    [Fact]
    public void TheMeanDoesNotDependOnArrivalOrder()
    {
        float[] exact = [(float)(1.0 / 6), (float)(Math.Pow(2, -22) / 6)];
        var orders = Permutations([0, 1, 2, 3, 4, 5]).ToArray();
        Assert.Equal(720, orders.Length);

        // A float running sum in these orders gives several different results: the test can tell.
        var naive = orders.Select(order =>
        {
            var sum = new float[2];
            foreach (int k in order)
                for (int lane = 0; lane < 2; lane++) sum[lane] += OrderSensitive[k][lane];
            return (BitConverter.SingleToInt32Bits(sum[0] / 6), BitConverter.SingleToInt32Bits(sum[1] / 6));
        }).Distinct().ToArray();
        Assert.True(naive.Length >= 5, $"naive float sums gave only {naive.Length} distinct results");
        Assert.Contains((BitConverter.SingleToInt32Bits(0f), BitConverter.SingleToInt32Bits(0f)), naive); // big values first: the small ones vanish
        Assert.Contains((BitConverter.SingleToInt32Bits(exact[0]), BitConverter.SingleToInt32Bits(exact[1])), naive);

        // The aggregator sorts by episode, so vary which episode carries which value (the order of the additions),
        // hand the contributions over in reverse (the arrival order), and also as workers' pre-summed shares.
        long[] episodes = [10, 11, 12, 13, 14, 15];
        foreach (var order in orders)
        {
            var contributions = order.Select((k, position) => new Contribution(episodes[position], OrderSensitive[k], Metrics)).Reverse().ToArray();
            var mean = Aggregator.Mean(contributions, episodes);
            Assert.Equal(BitConverter.SingleToInt32Bits(exact[0]), BitConverter.SingleToInt32Bits(mean[0]));
            Assert.Equal(BitConverter.SingleToInt32Bits(exact[1]), BitConverter.SingleToInt32Bits(mean[1]));

            var shares = Enumerable.Range(0, 3)
                .Select(w => PartialSum.Of(contributions.Where((_, i) => i % 3 == w).Select(c => (c.EpisodeIndex, c.Values)).ToArray(), 2))
                .ToArray();
            Assert.Equal(mean, Aggregator.Mean(shares, episodes));
        }
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
