using MetaCluster.Core.Training;

namespace MetaCluster.Cluster.Tests;

/// <summary>Configs the cluster tests train, and what Core's single-process trainer makes of them.</summary>
public static class Reference
{
    public static TrainingConfig Sinusoid(string algorithm, int rounds = 3, int metaBatch = 8) =>
        TrainingConfig.ForDataset("sinusoid", algorithm) with { Iterations = rounds, MetaBatch = metaBatch, Seed = 7 };

    /// <summary>θ bytes after <paramref name="rounds"/> rounds of <see cref="MetaTrainer"/>.</summary>
    public static byte[] Theta(TrainingConfig config, int rounds)
    {
        var trainer = new MetaTrainer(RunFactory.Create(config));
        for (int i = 0; i < rounds; i++) trainer.RunRound();
        return trainer.Theta.ToBytes();
    }

    public static string NewRunId(string name) => $"{name}-{Guid.NewGuid():N}";

    public static string NewDirectory() => Path.Combine(Path.GetTempPath(), $"mc-cluster-{Guid.NewGuid():N}");
}
