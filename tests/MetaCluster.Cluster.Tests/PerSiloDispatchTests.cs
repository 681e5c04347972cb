using MetaCluster.Contracts;
using MetaCluster.Grains;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// Per-silo dispatch (issue 14): θ goes once to each worker silo's hub, which deals the share over the silo's slots and
/// sends one exact partial sum back. The sum is exact, so θ keeps the single-process bits; failures inside a silo come
/// back as episode failures the coordinator retries on the other silo.
/// </summary>
[Collection(SharedCluster.Name)]
public class PerSiloDispatchTests(TestCluster fixture)
{
    private static readonly RunFollowing Fast = new() { PollInterval = TimeSpan.FromMilliseconds(50) };

    [Theory]
    [InlineData("maml", false)]
    [InlineData("reptile", false)]
    [InlineData("maml", true)]
    public async Task ThetaIsTheSingleProcessBitsAndEverySlotOfBothWorkerSilosComputes(string algorithm, bool perEpisode)
    {
        var config = Reference.Sinusoid(algorithm);
        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(Reference.NewRunId($"per-silo-{algorithm}"), config,
            new ClusterRunOptions(PerSiloDispatch: true, PerEpisodeContributions: perEpisode), Fast);

        Assert.Equal(RunState.Completed, result.Status.State);
        // Two worker silos of two slots: the status counts slots, not hubs.
        Assert.Equal(2 * TestCluster.SlotsPerWorkerSilo, result.Status.LiveWorkers);
        Assert.Equal(2, result.Status.ContributingSilos.Length);
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values), $"{algorithm} through silo hubs differs from the single-process trainer.");
    }

    [Fact]
    public async Task AnEpisodeThatFailsInOneSiloIsRetriedInTheOtherAndTheRunKeepsItsBits()
    {
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("per-silo-retry");
        var triedOn = new List<string>();
        TestFaults.Instance.For(runId, work =>
        {
            if (work.Episode != 7) return;
            lock (triedOn)
            {
                triedOn.Add(work.SiloName);
                if (triedOn.Count > 1) return;
            }
            throw new InjectedEpisodeFault("injected: episode 7 fails once");
        });

        var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, new ClusterRunOptions(PerSiloDispatch: true), Fast);

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(1, result.Status.Retried);
        Assert.Equal(2, triedOn.Count);
        Assert.NotEqual(triedOn[0], triedOn[1]); // the retry went to the other silo's hub
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
    }

    [Fact]
    public async Task PerSiloDispatchCappedAtSomeWorkersIsRefusedNamingBoth()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => new ClusterTrainingClient(fixture.Client).TrainAsync(
            Reference.NewRunId("per-silo-capped"), Reference.Sinusoid("maml"), new ClusterRunOptions(MaxWorkers: 2, PerSiloDispatch: true), Fast));
        Assert.Contains("per-silo dispatch", error.Message);
        Assert.Contains("2 workers", error.Message);
    }
}
