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
            // Cancelled as `metacluster train` cancels on Ctrl+C: through the following client's stop.
            using var stop = new CancellationTokenSource();
            stop.Cancel();
            var cancelled = await client.FollowAsync(runId, following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(20), Stop = stop.Token });

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

    [Fact]
    public async Task StoppingTheTrainingClientMidRunCancelsAfterTheRoundInFlightAndReturnsTheThetaReached()
    {
        var config = Reference.Sinusoid("maml", rounds: 1000) with { CheckpointEvery = 0 };
        string runId = Reference.NewRunId("stop");
        string directory = Reference.NewDirectory();
        TestFaults.Instance.For(runId, _ => Thread.Sleep(5));
        using var stop = new CancellationTokenSource();
        long reported = 0;
        try
        {
            var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(runId, config, new ClusterRunOptions(directory), new RunFollowing
            {
                PollInterval = TimeSpan.FromMilliseconds(20), Stop = stop.Token,
                OnProgress = (status, rounds) =>
                {
                    reported += rounds.Count;
                    if (status.Round >= 3) stop.Cancel();
                },
            });

            Assert.Equal(RunState.Cancelled, result.Status.State);
            Assert.InRange(result.Theta.Round, 3, config.Iterations - 1);
            Assert.Equal(result.Theta.Round, reported); // every round reported, once
            Assert.True(Reference.Theta(config, (int)result.Theta.Round).AsSpan().SequenceEqual(result.Theta.Values));
            Assert.Equal(result.Theta.Round, Checkpoint.Load(Path.Combine(directory, Checkpoint.FileName)).Round);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task CheckpointEveryZeroWritesTheOnlyCheckpointAtTheEnd()
    {
        var config = Reference.Sinusoid("maml", rounds: 4) with { CheckpointEvery = 0 };
        string directory = Reference.NewDirectory();
        try
        {
            var result = await new ClusterTrainingClient(fixture.Client).TrainAsync(Reference.NewRunId("end-only"), config, new ClusterRunOptions(directory),
                following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(20) });

            Assert.Equal(RunState.Completed, result.Status.State);
            Assert.Equal(4, result.Status.CheckpointRound);
            var checkpoint = Checkpoint.Load(Path.Combine(directory, Checkpoint.FileName));
            Assert.Equal(4, checkpoint.Round);
            Assert.True(Reference.Theta(config, 4).AsSpan().SequenceEqual(checkpoint.Theta.ToBytes()));
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
