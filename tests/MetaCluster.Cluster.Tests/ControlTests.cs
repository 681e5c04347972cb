using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cluster.Tests;

[Collection(SharedCluster.Name)]
public class ControlTests(TestCluster fixture)
{
    [Fact]
    public async Task PauseHoldsTheRunBetweenRoundsResumeGoesOnAndCancelStopsItWithACheckpoint()
    {
        var config = Reference.Sinusoid("maml", rounds: 1000) with { CheckpointEvery = 100_000 };
        string runId = Reference.NewRunId("control");
        string directory = Reference.NewDirectory();
        TestFaults.Instance.For(runId, _ => Thread.Sleep(10)); // rounds of a few tens of ms, so commands land mid-run
        var client = new ClusterTrainingClient(fixture.Client);
        try
        {
            await client.StartAsync(runId, config, new ClusterRunOptions(directory));
            await client.PauseAsync(runId);
            var paused = await Until(client, runId, s => s.State == RunState.Paused);
            await Task.Delay(300);
            Assert.Equal(paused.Round, (await client.GetStatusAsync(runId)).Round);

            await client.ResumeAsync(runId);
            await Until(client, runId, s => s.State == RunState.Running && s.Round > paused.Round);
            await client.CancelAsync(runId);
            var cancelled = await client.WaitAsync(runId, pollInterval: TimeSpan.FromMilliseconds(20));

            Assert.Equal(RunState.Cancelled, cancelled.State);
            Assert.True(cancelled.Round < config.Iterations);
            Assert.Equal(cancelled.Round, cancelled.CheckpointRound);
            var checkpoint = Checkpoint.Load(Path.Combine(directory, Checkpoint.FileName));
            Assert.Equal(cancelled.Round, checkpoint.Round);
            Assert.True(Reference.Theta(config, (int)cancelled.Round).AsSpan().SequenceEqual(checkpoint.Theta.ToBytes()));
            Assert.Equal(checkpoint.Theta.ToBytes(), (await client.Coordinator(runId).GetTheta())!.Values);
            Assert.Equal(await File.ReadAllBytesAsync(cancelled.CheckpointPath!), await client.Coordinator(runId).GetLatestCheckpoint());
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<RunStatus> Until(ClusterTrainingClient client, string runId, Func<RunStatus, bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var status = await client.GetStatusAsync(runId);
            if (condition(status)) return status;
            Assert.False(status.IsFinished, $"the run ended ({status.State}) before the expected state: {status.Error}");
            await Task.Delay(10, timeout.Token);
        }
    }
}
