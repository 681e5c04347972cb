using MetaCluster.Core.Training;
using MetaCluster.Grains.Coordinator;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Cluster.Tests;

/// <summary>The coordinator's sum of a round's pre-summed shares, added as the dispatcher accepts them.</summary>
public class RoundShareSumTests
{
    private const int Length = ConcurrentExactSum.StripeValues + 77;

    private static float[] Vector(long episode) => Enumerable.Range(0, Length).Select(i => (float)Math.Cos(episode * 3 + i) * 1e-2f).ToArray();

    /// <summary>A worker's share as it arrives: the wire form of its episodes' exact sum, in pooled memory.</summary>
    private static PooledBuffer Share(params long[] episodes)
    {
        var sum = new ExactSum(Length);
        foreach (long e in episodes) sum.Add(Vector(e));
        var wire = new PooledBuffer();
        sum.WriteTo(ref wire);
        return wire;
    }

    private static ExactSum Cleared()
    {
        var sum = new ExactSum(Length);
        sum.Add(Vector(99)); // an earlier round's sum, which must not count
        sum.Clear();
        return sum;
    }

    [Fact]
    public async Task SharesAddedAsTheyComeGiveTheBitsOfEveryEpisodeAddedOneByOneAndKeepTheirOrder()
    {
        var shares = new RoundShareSum(Cleared());
        shares.Take([4, 5], Share(4, 5));
        shares.Take([0], Share(0));
        shares.Take([1, 2, 3], Share(1, 2, 3));
        var (episodes, sum) = await shares.Complete();
        Assert.Equal([[4L, 5], [0L], [1L, 2, 3]], episodes);
        Assert.Equal(6, sum.Count);
        var expected = new ExactSum(Length);
        for (long e = 0; e < 6; e++) expected.Add(Vector(e));
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
    }

    [Fact]
    public async Task AShareThatDoesNotHoldWhatItNamesFailsTheRoundAndSettlingStillWaitsQuietly()
    {
        var shares = new RoundShareSum(Cleared());
        shares.Take([7], Share(7));
        shares.Take([8], Share(8, 9)); // names one episode, holds two
        var error = await Assert.ThrowsAsync<PartialSumRefusedException>(() => shares.Complete());
        Assert.Contains("names 1 episodes but holds 2", error.Message);
        await shares.Settled(); // the coordinator's finally: waits for the adds, whatever became of them
    }

    [Fact]
    public async Task ARoundWithoutSharesLeavesTheSumEmptyForTheVectors()
    {
        var (episodes, sum) = await new RoundShareSum(Cleared()).Complete();
        Assert.Empty(episodes);
        Assert.Equal(0, sum.Count);
        sum.Add(Vector(1)); // the vectors of a round without pre-summing go in afterwards, onto nothing
        var expected = new ExactSum(Length);
        expected.Add(Vector(1));
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
    }
}
