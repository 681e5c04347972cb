using MetaCluster.Contracts;
using MetaCluster.Grains;
using Orleans.Runtime;

namespace MetaCluster.Cluster.Tests;

[Collection(SharedCluster.Name)]
public class PlacementTests(TestCluster fixture)
{
    [Fact]
    public async Task WorkerSlotsLiveOnTheirWorkerSiloAndNeverOnTheCoordinatorOnlySilo()
    {
        var workerSilos = fixture.Cluster.Silos.Where(s => s.Name != TestCluster.CoordinatorSilo).ToArray();
        Assert.Equal(2, workerSilos.Length);
        foreach (var silo in workerSilos)
            for (int slot = 0; slot < TestCluster.SlotsPerWorkerSilo; slot++)
            {
                string key = WorkerKey.Create(silo.SiloAddress.ToParsableString(), slot);
                var info = await fixture.Client.GetGrain<ITaskWorkerGrain>(key).Describe();
                Assert.Equal(silo.SiloAddress.ToParsableString(), info.Silo);
                Assert.Equal(silo.Name, info.SiloName);
                Assert.Equal("cpu", info.Device);
            }

        var coordinatorOnly = fixture.Cluster.Silos.Single(s => s.Name == TestCluster.CoordinatorSilo);
        string refused = WorkerKey.Create(coordinatorOnly.SiloAddress.ToParsableString(), 0);
        var error = await Assert.ThrowsAsync<SiloUnavailableException>(() => fixture.Client.GetGrain<ITaskWorkerGrain>(refused).Describe());
        Assert.StartsWith($"worker slot '{refused}' names silo ", error.Message);
        Assert.Contains("which is not an active worker silo", error.Message);
    }

    [Fact]
    public async Task ARoundIsComputedByWorkersOnMoreThanOneSilo()
    {
        string runId = Reference.NewRunId("spread");
        var client = new ClusterTrainingClient(fixture.Client);
        var result = await client.TrainAsync(runId, Reference.Sinusoid("maml", rounds: 2), following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });

        Assert.Equal(RunState.Completed, result.Status.State);
        Assert.Equal(2, result.Status.Round);
        Assert.Equal(2 * TestCluster.SlotsPerWorkerSilo, result.Status.LiveWorkers);
        var workerSilos = fixture.Cluster.Silos.Where(s => s.Name != TestCluster.CoordinatorSilo).Select(s => s.SiloAddress.ToParsableString()).Order();
        Assert.Equal(workerSilos, result.Status.ContributingSilos);
    }
}
