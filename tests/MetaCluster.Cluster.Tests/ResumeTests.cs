using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cluster.Tests;

[Collection(SharedCluster.Name)]
public class ResumeTests(TestCluster fixture)
{
    /// <summary>A run stopped after 2 rounds and continued from its checkpoint file ends with a straight run's θ.</summary>
    [Fact]
    public async Task ARunStartedFromACheckpointContinuesItsRoundsAndOptimizerState()
    {
        var config = Reference.Sinusoid("maml", rounds: 4);
        string directory = Reference.NewDirectory();
        var client = new ClusterTrainingClient(fixture.Client);
        try
        {
            var first = await client.TrainAsync(Reference.NewRunId("first"), config with { Iterations = 2 }, new ClusterRunOptions(directory),
                following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(20) });
            Assert.Equal(2, first.Status.CheckpointRound);
            var checkpoint = Checkpoint.Load(Path.Combine(directory, Checkpoint.FileName));

            string runId = Reference.NewRunId("resumed");
            var started = await client.StartAsync(runId, config, new ClusterRunOptions(directory, ResumeFrom: checkpoint));
            Assert.True(started.Round >= 2);
            var resumed = await client.FollowAsync(runId, following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(20) });
            Assert.Equal(RunState.Completed, resumed.State);
            var theta = (await client.Coordinator(runId).GetTheta())!;
            Assert.Equal(4, theta.Round);
            Assert.True(Reference.Theta(config, 4).AsSpan().SequenceEqual(theta.Values));

            var rounds = await client.GetRoundsAsync(runId, 0);
            Assert.Equal([2L, 3L], rounds.Select(r => r.Round));
            Assert.All(rounds, r => Assert.Equal(config.MetaBatch, r.Episodes));
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}
