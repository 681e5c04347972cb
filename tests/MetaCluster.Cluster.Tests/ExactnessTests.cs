using MetaCluster.Contracts;
using MetaCluster.Grains;

namespace MetaCluster.Cluster.Tests;

[Collection(SharedCluster.Name)]
public class ExactnessTests(TestCluster fixture)
{
    /// <summary>
    /// Contributions are aggregated in episode order whoever computed them, so θ is the single-process trainer's
    /// bits for any number of workers (sinusoid MLP: bit-identical across torch thread counts under MKL_CBWR).
    /// </summary>
    [Theory]
    [InlineData("maml")]
    [InlineData("fomaml")]
    [InlineData("reptile")]
    public async Task ThetaAfterThreeRoundsIsBitIdenticalForOneTwoAndThreeWorkersAndToTheSingleProcessTrainer(string algorithm)
    {
        var config = Reference.Sinusoid(algorithm);
        byte[] expected = Reference.Theta(config, 3);
        var client = new ClusterTrainingClient(fixture.Client);
        foreach (int workers in new[] { 1, 2, 3 })
        {
            var result = await client.TrainAsync(Reference.NewRunId($"{algorithm}-{workers}"), config, new ClusterRunOptions(MaxWorkers: workers),
                following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });
            Assert.Equal(RunState.Completed, result.Status.State);
            Assert.Equal(workers, result.Status.LiveWorkers);
            Assert.Equal(3, result.Theta.Round);
            Assert.True(expected.AsSpan().SequenceEqual(result.Theta.Values), $"{algorithm} with {workers} worker(s) differs from the single-process trainer.");
        }
    }
}
