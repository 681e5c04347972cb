using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Tests that change libtorch's process-wide thread count. They run alone (no other test class at the same time): every
/// other test that compares bits between two runs would otherwise see the count change under it — a Core run in CI once
/// saw two identical federated runs end on different θ while other classes ran beside this one.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideTorchSettings
{
    public const string Name = "process-wide torch settings";
}

[Collection(ProcessWideTorchSettings.Name)]
public class TorchThreadCountTests
{
    [Fact]
    public void MlpTrainingGivesTheSameBitsWithOneOrTwoTorchThreads()
    {
        // MKL in AVX2,STRICT mode (NumericalReproducibility) makes the MLP math independent of the thread count.
        float[] Train(int threads)
        {
            int previous = TorchSharp.torch.get_num_threads();
            TorchSharp.torch.set_num_threads(threads);
            try
            {
                var trainer = new MetaTrainer(RunFactory.Create(TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 20, Seed = 8, MetaBatch = 5, Hidden = [64, 64] }));
                while (!trainer.Finished) trainer.RunRound();
                return trainer.Theta.Values;
            }
            finally
            {
                TorchSharp.torch.set_num_threads(previous);
            }
        }
        Assert.Equal(Train(1), Train(2));
    }
}
