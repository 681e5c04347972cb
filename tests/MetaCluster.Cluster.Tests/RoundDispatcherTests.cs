using Orleans.Serialization.Buffers;
using MetaCluster.Contracts;
using MetaCluster.Grains.Coordinator;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetaCluster.Cluster.Tests;

/// <summary>The dispatch rules without a cluster: workers are delegates that answer, fail or throw.</summary>
public class RoundDispatcherTests
{
    private static readonly string[] Workers = ["a:1@1/0", "b:1@1/0", "b:1@1/1"];

    private static WorkResult Compute(string worker, long[] share, Func<long, bool>? fails = null) => new()
    {
        Worker = worker, Silo = worker.Split('/')[0],
        Contributions = share.Where(i => fails?.Invoke(i) != true).Select(i => new EpisodeContribution { Episode = i, Values = BitConverter.GetBytes((float)i) }).ToArray(),
        Failures = share.Where(i => fails?.Invoke(i) == true).Select(i => new EpisodeFailure { Episode = i, Error = "boom" }).ToArray(),
    };

    private static RoundDispatcher Dispatcher(Func<string, long[], Task<WorkResult>> call, int perCall, FaultCounters counters) =>
        new(call, _ => TimeSpan.FromSeconds(10), perCall, counters, NullLogger.Instance);

    [Fact]
    public async Task RepliesAreCutToTheEpisodesOneMessageMayCarryAndEveryEpisodeComesBackInOrder()
    {
        var shares = new List<long[]>();
        var counters = new FaultCounters();
        var outcome = await Dispatcher((w, share) => { lock (shares) shares.Add(share); return Task.FromResult(Compute(w, share)); }, 2, counters)
            .Run(0, Workers[..1], [10, 11, 12, 13, 14]);

        Assert.Equal([10L, 11, 12, 13, 14], outcome.Contributions.Select(c => c.Episode));
        Assert.All(shares, s => Assert.True(s.Length <= 2));
        Assert.Equal(3, shares.Count);
        Assert.Equal(0, counters.Redispatched + counters.Retried);
    }

    [Fact]
    public async Task AFailedEpisodeIsRetriedOnAnotherSiloAndADeadWorkersShareIsRedispatched()
    {
        var counters = new FaultCounters();
        var retriedOn = new List<string>();
        var outcome = await Dispatcher((w, share) =>
        {
            if (w == "b:1@1/1") return Task.FromException<WorkResult>(new TimeoutException("gone"));
            if (share.Contains(4) && w != "a:1@1/0") return Task.FromResult(Compute(w, share, i => i == 4));
            if (share.Contains(4)) lock (retriedOn) retriedOn.Add(w);
            return Task.FromResult(Compute(w, share));
        }, 100, counters).Run(0, Workers, [0, 1, 2, 3, 4, 5]);

        Assert.Equal([0L, 1, 2, 3, 4, 5], outcome.Contributions.Select(c => c.Episode));
        Assert.Equal(2, outcome.LiveWorkers);
        Assert.Equal(1, counters.Retried);
        Assert.Equal(2, counters.Redispatched); // episodes 2 and 5 of the dead worker b/1
        Assert.Equal(["a:1@1/0"], retriedOn);   // episode 4 failed on silo b, so its retry goes to silo a
    }

    [Fact]
    public async Task WhenEveryWorkerIsGoneTheRoundFailsWithTheirErrors()
    {
        var failure = await Assert.ThrowsAsync<RoundFailedException>(() => Dispatcher(
            (w, _) => Task.FromException<WorkResult>(new InvalidOperationException($"no data on {w}")), 10, new FaultCounters())
            .Run(3, Workers, [0, 1]));
        Assert.Contains("round 3: no live worker is left", failure.Message);
        Assert.Contains("no data on a:1@1/0", failure.Message);
    }

    private static WorkResult PreSummed(string worker, long[] episodes) => new()
    {
        Worker = worker, Silo = worker.Split('/')[0],
        Contributions = episodes.Select(i => new EpisodeContribution { Episode = i, Values = [] }).ToArray(),
        Failures = [], PartialSum = Pooled(episodes.Select(i => (byte)i).ToArray()),
    };

    private static PooledBuffer Pooled(byte[] bytes)
    {
        var buffer = new PooledBuffer();
        buffer.Write(bytes);
        return buffer;
    }

    [Fact]
    public async Task APreSummedShareCountsWholeAndOneNamingAnEpisodeOutsideItsShareIsComputedAgain()
    {
        var counters = new FaultCounters();
        var calls = new List<(string Worker, long[] Share)>();
        bool misbehaved = false;
        var outcome = await Dispatcher((w, share) =>
        {
            lock (calls) calls.Add((w, share));
            // The first reply of b/0 claims an episode it was not given: the whole share is refused, none of it counted.
            if (w == "b:1@1/0" && !misbehaved)
            {
                misbehaved = true;
                return Task.FromResult(PreSummed(w, [.. share, 99]));
            }
            return Task.FromResult(PreSummed(w, share));
        }, 100, counters).Run(0, Workers[..2], [0, 1, 2, 3]);

        Assert.Equal([0L, 1, 2, 3], outcome.Contributions.Select(c => c.Episode));
        Assert.Equal([0L, 1, 2, 3], outcome.Shares.SelectMany(s => s.Episodes).Order());
        Assert.All(outcome.Shares, s => Assert.Equal(s.Episodes.Select(i => (byte)i), s.Sum.ToArray()));
        Assert.Equal(2, counters.Redispatched); // b/0's share (episodes 1 and 3) went out again
        Assert.Equal(2, calls.Count(c => c.Share.Contains(1L)));
        Assert.Equal(0, counters.Retried);
    }

    [Fact]
    public async Task AWorkerThatHandsItsShareBackGetsNoMoreAndItsEpisodesGoToTheOthers()
    {
        var counters = new FaultCounters();
        var calls = new List<string>();
        var outcome = await Dispatcher((w, share) =>
        {
            lock (calls) calls.Add(w);
            if (w == "a:1@1/0")
                return Task.FromResult(new WorkResult { Worker = w, Silo = "a:1@1", Contributions = [], Failures = [], HandedBack = share });
            return Task.FromResult(Compute(w, share));
        }, 1, counters).Run(5, Workers, [0, 1, 2, 3, 4, 5]);

        Assert.Equal([0L, 1, 2, 3, 4, 5], outcome.Contributions.Select(c => c.Episode));
        Assert.Equal(2, outcome.LiveWorkers);
        Assert.Equal(["b:1@1"], outcome.Silos);
        Assert.Single(calls, w => w == "a:1@1/0");
        Assert.Equal(2, counters.Redispatched); // its share (one episode a call) and the one still queued for it
    }

    [Fact]
    public async Task WhenEveryWorkerIsLostMidRoundTheRoundWaitsForANewOneNotForTheDroppedOnes()
    {
        var counters = new FaultCounters();
        var excludedSeen = new List<string>();
        var live = new List<int>();
        var wait = new WorkerWait(TimeSpan.FromSeconds(5), excluded =>
        {
            excludedSeen.AddRange(excluded);
            return Task.FromResult<IReadOnlyList<string>>(["c:1@2/0"]);
        });
        var outcome = await new RoundDispatcher((w, share) => w.StartsWith("c:", StringComparison.Ordinal)
                ? Task.FromResult(Compute(w, share))
                : Task.FromException<WorkResult>(new TimeoutException($"{w} gone")),
            _ => TimeSpan.FromSeconds(10), 100, counters, NullLogger.Instance, wait, live.Add).Run(7, Workers, [0, 1, 2, 3]);

        Assert.Equal([0L, 1, 2, 3], outcome.Contributions.Select(c => c.Episode));
        Assert.Equal(["c:1@2"], outcome.Silos);
        Assert.Equal(Workers.Order(), excludedSeen.Order());
        Assert.Contains(0, live);
        Assert.Equal(1, live[^1]);
    }

    [Fact]
    public async Task WhenNoWorkerJoinsWithinTheWaitTheRoundFailsSayingSo()
    {
        var wait = new WorkerWait(TimeSpan.FromSeconds(2), _ => Task.FromResult<IReadOnlyList<string>>([]));
        var failure = await Assert.ThrowsAsync<RoundFailedException>(() => new RoundDispatcher(
            (w, _) => Task.FromException<WorkResult>(new TimeoutException("gone")), _ => TimeSpan.FromSeconds(10), 10, new FaultCounters(), NullLogger.Instance, wait)
            .Run(3, Workers, [0, 1]));
        Assert.Contains("round 3: no live worker is left to compute episodes [0, 1] and none joined within 2 s", failure.Message);
    }
}
