using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Grains;

namespace MetaCluster.Cluster.Tests;

/// <summary>Kills a worker silo mid-round; has its own cluster, since the kill leaves it one silo short.</summary>
public class CrashTests : IAsyncLifetime
{
    private readonly TestCluster _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();
    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task KillingAWorkerSiloMidRoundRedispatchesItsEpisodesAndTheRunKeepsItsBits()
    {
        var config = Reference.Sinusoid("maml");
        string runId = Reference.NewRunId("crash");
        var victim = _fixture.Cluster.Silos.Single(s => s.Name == TestCluster.VictimSilo);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TestFaults.Instance.For(runId, work =>
        {
            // Round 1 on the victim is slow, so the kill lands while its episodes are in flight.
            if (work.Round != 1 || work.SiloName != victim.Name) return;
            started.TrySetResult();
            Thread.Sleep(TimeSpan.FromSeconds(1));
        });
        var client = new ClusterTrainingClient(_fixture.Client);
        await client.StartAsync(runId, config);

        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, (await client.GetStatusAsync(runId)).Round); // round 0 done, round 1 in flight
        var watch = Stopwatch.StartNew();
        await _fixture.Cluster.KillSiloAsync(victim);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var status = await client.FollowAsync(runId, following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) }, cancellationToken: timeout.Token);

        Assert.Equal(RunState.Completed, status.State);
        Assert.True(status.Redispatched > 0, "the victim's episodes should have been handed to the other silo's workers");
        Assert.Equal(TestCluster.SlotsPerWorkerSilo, status.LiveWorkers);
        var theta = await client.Coordinator(runId).GetTheta();
        Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(theta!.Values));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"recovery took {watch.Elapsed.TotalSeconds:F1} s");
    }
}
