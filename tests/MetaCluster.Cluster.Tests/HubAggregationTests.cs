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
        Assert.Equal(0, third.Count); // cleared for its new holder
        Assert.Equal(new long[5], third.Sum.Units.ToArray());
        Assert.NotSame(first.Sum, pool.Rent(5).Sum); // released once, taken once
        third.Release();
        Assert.Equal(7, pool.Rent(7).Sum.Length); // a sum of another run's size is not handed out
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
