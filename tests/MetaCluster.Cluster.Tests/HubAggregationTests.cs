using System.Buffers;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Coordinator;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Cluster.Tests;

/// <summary>The pieces of per-silo aggregation that need no cluster: the silo's pool of sums and the hub groups.</summary>
public class HubAggregationTests
{
    [Fact]
    public void APooledSumComesBackEmptyIsReusedOnceReleasedAndNeverTwice()
    {
        var pool = new ShareSumPool();
        var first = pool.Rent(5);
        first.Sum.Add([1f, 2f, 3f, 4f, 5f]);
        var second = pool.Rent(5); // the first is still lent: another sum
        Assert.NotSame(first.Sum, second.Sum);
        first.Release();
        first.Release(); // a second release must not put it in the pool twice (two holders of one sum)
        var third = pool.Rent(5);
        Assert.Same(first.Sum, third.Sum);
        Assert.Equal(0, third.Sum.Count); // cleared for its new holder
        Assert.Equal(new long[5], third.Sum.Units.ToArray());
        Assert.NotSame(first.Sum, pool.Rent(5).Sum); // released once, taken once
        third.Release();
        Assert.Equal(7, pool.Rent(7).Sum.Length); // a sum of another run's size is not handed out
    }

    private static EpisodeContribution Episode(long episode) => new() { Episode = episode, Values = [], PostLoss = episode / 10.0 };

    private static float[] Vector(long episode, int length = 37) => Enumerable.Range(0, length).Select(i => (float)Math.Sin(episode * 7 + i) * 1e-3f).ToArray();

    [Fact]
    public async Task SlotsAddingAtOnceGiveTheBitsOfOneAfterAnotherAndTheRecordNamesEveryEpisode()
    {
        var shared = new HubShareSum(new ExactSum(37));
        // Eight slots, 40 episodes each, all at once.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(slot => Task.Run(() =>
        {
            for (long e = slot * 40; e < slot * 40 + 40; e++) Assert.True(shared.TryAdd(Episode(e), Vector(e)));
        })));
        var (sum, held) = shared.Seal();
        var oneByOne = new ExactSum(37);
        for (long e = 0; e < 320; e++) oneByOne.Add(Vector(e));
        Assert.Equal(oneByOne.Units.ToArray(), sum.Units.ToArray());
        Assert.Equal(320, sum.Count);
        Assert.Equal(Enumerable.Range(0, 320).Select(e => (long)e), held.Keys.Order());
        Assert.Equal(3.1, held[31].PostLoss);
    }

    [Fact]
    public async Task ASealThatMeetsAnAddUnderWayWaitsForItAndTheRecordHoldsExactlyWhatTheSumHolds()
    {
        // One add of 200 stripes (3.3M values: milliseconds) and a seal a millisecond after it began: the seal lands
        // while part of the vector is in. It must wait, and then the sum and the record both hold the episode.
        const int length = 200 * ConcurrentExactSum.StripeValues;
        var first = Vector(1, length);
        var big = Vector(2, length);
        var shared = new HubShareSum(new ExactSum(length));
        Assert.True(shared.TryAdd(Episode(1), first));
        using var begun = new ManualResetEventSlim();
        var slot = Task.Factory.StartNew(() =>
        {
            begun.Set();
            return shared.TryAdd(Episode(2), big);
        }, TaskCreationOptions.LongRunning);
        begun.Wait();
        Thread.Sleep(1);
        var (sum, held) = shared.Seal();
        Assert.True(await slot);
        Assert.Equal([1L, 2], held.Keys.Order());
        Assert.Equal(2, sum.Count);
        var expected = new ExactSum(length);
        expected.Add(first);
        expected.Add(big);
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
        Assert.False(shared.TryAdd(Episode(3), first)); // and after the seal, nothing more
    }

    [Fact]
    public void ARefusedVectorAddsNothingAndASealedSumTakesNothingMore()
    {
        var shared = new HubShareSum(new ExactSum(37));
        Assert.True(shared.TryAdd(Episode(1), Vector(1)));
        var bad = Vector(2);
        bad[30] = float.NaN;
        Assert.Contains("episode 2", Assert.Throws<OverflowException>(() => shared.TryAdd(Episode(2), bad)).Message);
        Assert.False(shared.TryAdd(Episode(1), Vector(1))); // already in
        var (sum, held) = shared.Seal();
        var expected = new ExactSum(37);
        expected.Add(Vector(1));
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
        Assert.Equal([1L], held.Keys);

        // A slot that finishes after the hub answered: refused, and the sum the hub sent is untouched.
        Assert.False(shared.TryAdd(Episode(3), Vector(3)));
        Assert.Contains("after its answer", shared.AddPartial(new ReadOnlySequence<byte>(expected.ToBytes()), [Episode(4)], "a late member"));
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
        Assert.Single(held);

        // A hub whose call ended without sealing (it threw) closes the sum before it goes back to the pool.
        var abandoned = new HubShareSum(new ExactSum(37));
        abandoned.Close();
        Assert.False(abandoned.TryAdd(Episode(8), Vector(8)));
    }

    [Fact]
    public void AMembersPartialSumGoesInWholeAndOneThatDoesNotHoldWhatItNamesIsRefusedLeavingTheSumAsItWas()
    {
        var member = new ExactSum(37);
        member.Add(Vector(5));
        member.Add(Vector(6));
        var shared = new HubShareSum(new ExactSum(37));
        Assert.True(shared.TryAdd(Episode(1), Vector(1)));
        Assert.Null(shared.AddPartial(new ReadOnlySequence<byte>(member.ToBytes()), [Episode(5), Episode(6)], "member b/hub"));
        Assert.Contains("already holds", shared.AddPartial(new ReadOnlySequence<byte>(member.ToBytes()), [Episode(6), Episode(7)], "member c/hub")); // 6 is in already
        // Names one episode, holds two; and a wire form cut short: both refused before anything is added, the sum usable.
        Assert.Equal("member d/hub names 1 episodes but holds 2 contributions", shared.AddPartial(new ReadOnlySequence<byte>(member.ToBytes()), [Episode(8)], "member d/hub"));
        Assert.Contains("member e/hub is 20 bytes", shared.AddPartial(new ReadOnlySequence<byte>(member.ToBytes()[..20]), [Episode(9)], "member e/hub"));
        Assert.True(shared.TryAdd(Episode(8), Vector(8))); // the refused sums' episodes are not held: their own vectors may still come
        var (sum, held) = shared.Seal();
        var expected = new ExactSum(37);
        foreach (long e in new long[] { 1, 5, 6, 8 }) expected.Add(Vector(e));
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
        Assert.Equal([1L, 5, 6, 8], held.Keys.Order());

        // One whose add leaves the range part-way (each alone in range, together past 2^23) may be half in: the sum breaks.
        var big = Vector(2);
        big[30] = 8e6f;
        var large = new ExactSum(37);
        large.Add(big);
        var broken = new HubShareSum(new ExactSum(37));
        Assert.True(broken.TryAdd(Episode(2), big));
        Assert.Throws<OverflowException>(() => broken.AddPartial(new ReadOnlySequence<byte>(large.ToBytes()), [Episode(3)], "member f/hub"));
        Assert.Contains("unusable: member f/hub could not be added", Assert.Throws<InvalidOperationException>(() => broken.Seal()).Message);
    }

    [Fact]
    public void HubsAreGroupedInTheirOrderAndALeaderStandsForItsGroupsSlots()
    {
        var slots = new Dictionary<string, int> { ["a/hub"] = 8, ["b/hub"] = 8, ["c/hub"] = 4, ["d/hub"] = 8, ["e/hub"] = 2 };
        var groups = new HubGroups(2, hub => slots[hub]);
        Assert.Equal(["a/hub", "c/hub", "e/hub"], groups.Lead(["a/hub", "b/hub", "c/hub", "d/hub", "e/hub"]));
        Assert.Equal(["b/hub"], groups.MembersOf("a/hub"));
        Assert.Equal(["d/hub"], groups.MembersOf("c/hub"));
        Assert.Empty(groups.MembersOf("e/hub")); // the last group is what is left
        Assert.Empty(groups.MembersOf("b/hub")); // a member leads nothing
        Assert.Equal(16, groups.SlotsOf("a/hub"));
        Assert.Equal(12, groups.SlotsOf("c/hub"));
        Assert.Equal(2, groups.SlotsOf("e/hub"));
    }
}
