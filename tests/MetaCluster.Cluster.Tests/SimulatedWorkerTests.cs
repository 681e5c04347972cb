using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// The stand-in for a GPU worker (metacluster-server --simulate-episode-ms): real-sized deterministic contributions,
/// so θ keeps its bits for any worker count, and episode time spent asleep, not on a core.
/// </summary>
[Collection(SharedCluster.Name)]
public class SimulatedWorkerTests(TestCluster fixture)
{
    private const ulong Seed = 41_014;

    [Fact]
    public async Task ThetaFromSimulatedWorkersIsBitIdenticalForOneTwoAndFourWorkersPerEpisodeOrPreSummedAndToAddingEveryEpisodeInOrder()
    {
        var config = Reference.Sinusoid("maml", rounds: 3, metaBatch: 8) with { Seed = Seed };
        var simulated = new SimulatedContributions(TimeSpan.FromMilliseconds(15));
        TestContributions.Instance.Simulate(Seed, simulated);
        byte[] expected = OneByOne(config, simulated);
        byte[] initial = RunFactory.CreateBlueprint(config).InitialParameters().ToBytes();
        Assert.False(expected.AsSpan().SequenceEqual(initial), "the simulated contributions must move θ");

        var client = new ClusterTrainingClient(fixture.Client);
        foreach (var (workers, perEpisode) in new[] { (1, false), (2, false), (4, false), (2, true) })
        {
            var result = await client.TrainAsync(Reference.NewRunId($"simulated-{workers}"), config,
                new ClusterRunOptions(MaxWorkers: workers, PerEpisodeContributions: perEpisode), new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });
            Assert.Equal(RunState.Completed, result.Status.State);
            Assert.Equal(workers, result.Status.LiveWorkers);
            Assert.True(expected.AsSpan().SequenceEqual(result.Theta.Values),
                $"simulated workers: θ with {workers} worker(s){(perEpisode ? ", a vector per episode," : "")} differs from adding every episode in order.");
        }
    }

    [Fact]
    public async Task EachRoundRecordsItsLastReplysCallTimeAndTheTimeItsWorkerSpentInside()
    {
        // One worker takes all 8 episodes of 15 ms in one call: inside it ≥ 120 ms; the call is that plus θ down and the
        // reply up; the dispatch is that one call (sent at once: no wait); the round is the dispatch plus the coordinator's own time.
        var config = Reference.Sinusoid("maml", rounds: 3, metaBatch: 8) with { Seed = Seed };
        TestContributions.Instance.Simulate(Seed, new SimulatedContributions(TimeSpan.FromMilliseconds(15)));
        var client = new ClusterTrainingClient(fixture.Client);
        string runId = Reference.NewRunId("simulated-split");
        var result = await client.TrainAsync(runId, config, new ClusterRunOptions(MaxWorkers: 1), new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });
        Assert.Equal(RunState.Completed, result.Status.State);
        var rounds = await client.GetRoundsAsync(runId, 0);
        Assert.Equal(3, rounds.Length);
        Assert.All(rounds, r =>
        {
            Assert.True(r.LastWorkerSeconds >= 8 * 0.015, $"round {r.Round}: the worker reported {r.LastWorkerSeconds} s for 8 episodes of 15 ms");
            Assert.True(r.LastCallSeconds >= r.LastWorkerSeconds, $"round {r.Round}: the call took {r.LastCallSeconds} s, less than the {r.LastWorkerSeconds} s inside it");
            Assert.True(r.DispatchSeconds >= r.LastCallSeconds, $"round {r.Round}: dispatched in {r.DispatchSeconds} s, less than its last call's {r.LastCallSeconds} s");
            Assert.True(r.DispatchSeconds - r.LastCallSeconds < 0.005, $"round {r.Round}: its one call was sent {r.DispatchSeconds - r.LastCallSeconds} s after the dispatch began");
            Assert.True(r.Seconds >= r.DispatchSeconds, $"round {r.Round} took {r.Seconds} s, less than its dispatch's {r.DispatchSeconds} s");
        });
    }

    [Fact]
    public void ASimulatedShareTakesItsEpisodesTimeAsleepAndGivesModelSizedValuesThatDependOnlyOnSeedAndEpisode()
    {
        var run = RunFactory.Create(Reference.Sinusoid("maml") with { Seed = Seed });
        var theta = run.Blueprint.InitialParameters();
        var source = new SimulatedContributions(TimeSpan.FromMilliseconds(25));
        long[] episodes = Enumerable.Range(100, 20).Select(i => (long)i).ToArray();

        long cpuBefore = ThreadCpuTicks();
        var watch = Stopwatch.StartNew();
        var share = source.Contribute(run, theta, episodes, run.TrainingStream().Sample);
        double wall = watch.Elapsed.TotalSeconds;
        long cpuTicks = ThreadCpuTicks() - cpuBefore;

        Assert.True(wall >= 20 * 0.025, $"20 episodes of 25 ms took {wall:F3} s");
        // A spinning thread would use about 50 ticks (10 ms each) here; sleeping uses next to none.
        Assert.True(cpuTicks <= 10, $"the simulated share used {cpuTicks} ticks of CPU in {wall:F3} s: it must sleep, not spin");

        int count = run.Blueprint.Layout.TotalCount;
        Assert.All(share, c => Assert.Equal(count, c.Values.Length));
        Assert.All(share, c => Assert.All(c.Values, v => Assert.True(Math.Abs(v) < SimulatedContributions.Magnitude)));
        Assert.Equal(episodes.Length, share.Select(c => Convert.ToHexString(System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.Values.AsSpan()))).Distinct().Count());
        // The same episode alone, with another θ, from another source: the same bits.
        var other = new SimulatedContributions(TimeSpan.Zero);
        var shifted = RunFactory.CreateBlueprint(Reference.Sinusoid("maml") with { Seed = Seed + 1 }).InitialParameters();
        var alone = other.Contribute(run, shifted, [episodes[7]], run.TrainingStream().Sample).Single();
        Assert.Equal(share[7].Values, alone.Values);
        Assert.Equal(share[7].Metrics, alone.Metrics);
    }

    /// <summary>The single-process trainer, every episode's vector added one by one (its own share) in episode order.</summary>
    private static byte[] OneByOne(TrainingConfig config, IContributionSource source)
    {
        var run = RunFactory.Create(config);
        var trainer = new MetaTrainer(run.Blueprint, new OneEpisodeShares(run, source));
        for (int i = 0; i < config.Iterations; i++) trainer.RunRound();
        return trainer.Theta.ToBytes();
    }

    private sealed class OneEpisodeShares(TrainingRun run, IContributionSource source) : IContributionProvider
    {
        public ValueTask<RoundContributions> ContributeAsync(RoundWork work, CancellationToken cancellationToken = default)
        {
            var contributions = source.Contribute(run, work.Theta, work.Episodes, run.TrainingStream().Sample);
            var shares = contributions.Select(c => PartialSum.Of([(c.EpisodeIndex, c.Values)], c.Values.Length)).ToList();
            return ValueTask.FromResult(new RoundContributions(shares, contributions.Select(c => (c.EpisodeIndex, c.Metrics)).ToArray()));
        }
    }

    /// <summary>This thread's user + system CPU time in clock ticks (/proc/thread-self/stat fields 14 and 15).</summary>
    private static long ThreadCpuTicks()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11]) + long.Parse(fields[12]);
    }
}
