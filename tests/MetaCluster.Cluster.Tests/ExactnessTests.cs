using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cluster.Tests;

[Collection(SharedCluster.Name)]
public class ExactnessTests(TestCluster fixture)
{
    /// <summary>
    /// Contributions are aggregated in episode order whoever computed them, so θ is the single-process trainer's
    /// bits for any number of workers (sinusoid MLP: bit-identical across torch thread counts under MKL_CBWR).
    /// "reptile-carried" carries its inner Adam's state in θ: the round adds the tasks' mean change, so it too must be
    /// the same bits whoever computed which task.
    /// </summary>
    [Theory]
    [InlineData("maml")]
    [InlineData("fomaml")]
    [InlineData("reptile")]
    [InlineData("reptile-carried")]
    public async Task ThetaAfterThreeRoundsIsBitIdenticalForOneTwoAndThreeWorkersAndToTheSingleProcessTrainer(string algorithm)
    {
        var config = algorithm == "reptile-carried"
            ? Reference.Sinusoid("reptile") with { ReptileInner = "adam", InnerLr = 0.001, ReptileAdamState = "carried" }
            : Reference.Sinusoid(algorithm);
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

    /// <summary>
    /// The image-classification methods of issue 12 through the cluster: matching networks (with full context
    /// embeddings: the LSTMs too), the weight-generating meta-network and the pre-train baseline, whose class batches
    /// go to workers like episodes. Same θ bits for 1 and 3 workers as in process (Conv4, one torch thread everywhere).
    /// "maml++" is MAML with every MAML++ option (per-step BN weights, learned rates in θ), its first round first
    /// order and its second second order, so a worker must read the round from the episode index.
    /// </summary>
    [Theory]
    [InlineData("matchingnet", true)]
    [InlineData("metanet", false)]
    [InlineData("pretrain", false)]
    [InlineData("maml++", false)]
    public async Task ImageClassifiersGiveTheSingleProcessBitsOnOneAndThreeWorkers(string algorithm, bool fce)
    {
        using var folder = new TinyImageFolder();
        var config = (algorithm == "maml++"
            ? TrainingConfig.ForDataset("folder", "maml").WithMamlPlusPlus() with { InnerSteps = 2, EvalSteps = 2, MslIterations = 4, DerivativeOrderAnnealing = 1 }
            : TrainingConfig.ForDataset("folder", algorithm)) with
        {
            DataDir = folder.Dir, Ways = 2, Shots = 1, Queries = 1, MetaBatch = 3, Iterations = 2, Seed = 5, FullContextEmbeddings = fce,
        };
        config = RunFactory.ResolvePretrainClasses(config); // as the CLI does before a run starts
        byte[] expected = Reference.Theta(config, 2);
        var client = new ClusterTrainingClient(fixture.Client);
        foreach (int workers in new[] { 1, 3 })
        {
            var result = await client.TrainAsync(Reference.NewRunId($"{algorithm}-{workers}"), config, new ClusterRunOptions(MaxWorkers: workers),
                following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });
            Assert.Equal(RunState.Completed, result.Status.State);
            Assert.Equal(2, result.Theta.Round);
            Assert.True(expected.AsSpan().SequenceEqual(result.Theta.Values), $"{algorithm} with {workers} worker(s) differs from the single-process trainer.");
        }
    }

    /// <summary>
    /// Issue 12's sequence methods through the cluster: mann (a folder of generated images), lstm-meta (sinusoid, MLP
    /// learner) and MAML on --model lstm (sine-sequence) give the single-process trainer's θ bits with 1 and 3 workers.
    /// </summary>
    [Theory]
    [InlineData("mann")]
    [InlineData("lstm-meta")]
    [InlineData("maml-lstm")]
    public async Task SequenceMethodsGiveTheSingleProcessThetaBitsForOneAndThreeWorkers(string method)
    {
        using var folder = method == "mann" ? new TinyImageFolder(classes: 3, imagesPerClass: 4, seed: 3) : null;
        var config = method switch
        {
            "mann" => TrainingConfig.ForDataset("folder", "mann") with
            {
                DataDir = folder!.Dir, Ways = 2, Shots = 1, Queries = 2, Hidden = [8],
                Iterations = 3, MetaBatch = 6, Seed = 7,
            },
            "lstm-meta" => Reference.Sinusoid("lstm-meta", metaBatch: 6) with { InnerSteps = 2, Hidden = [8, 8] },
            _ => TrainingConfig.ForDataset("sine-sequence", "maml") with { Hidden = [6], Shots = 3, Queries = 3, Iterations = 3, MetaBatch = 6, Seed = 7 },
        };
        byte[] expected = Reference.Theta(config, 3);
        var client = new ClusterTrainingClient(fixture.Client);
        foreach (int workers in new[] { 1, 3 })
        {
            var result = await client.TrainAsync(Reference.NewRunId($"{method}-{workers}"), config, new ClusterRunOptions(MaxWorkers: workers),
                following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });
            Assert.Equal(RunState.Completed, result.Status.State);
            Assert.Equal(3, result.Theta.Round);
            Assert.True(expected.AsSpan().SequenceEqual(result.Theta.Values), $"{method} with {workers} worker(s) differs from the single-process trainer.");
        }
    }
}
