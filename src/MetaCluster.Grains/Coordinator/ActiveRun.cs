using MetaCluster.Core.Training;
using MetaCluster.Grains.Hosting;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// A run as its coordinator drives it: the config, its blueprint (model and algorithm — the coordinator never loads
/// the data), Core's trainer and the cluster as its contribution provider.
/// </summary>
internal sealed record ActiveRun(TrainingConfig Config, RunBlueprint Blueprint, MetaTrainer Trainer, ClusterContributions Contributions)
{
    /// <summary>
    /// Builds the run from its config JSON, starting from the seed's initial θ or from a checkpoint's bytes (θ,
    /// optimizer state, round: Core's resume rules). Throws before anything is sent if θ cannot fit one message.
    /// </summary>
    public static async Task<ActiveRun> Build(string configJson, byte[]? checkpoint, string what, MetaClusterSiloOptions silo, int maxMessageBodySize,
        Func<RunBlueprint, string, ClusterContributions> contributions)
    {
        var config = ConfigJson.Read(configJson);
        var blueprint = await Task.Run(() => RunFactory.CreateBlueprint(silo.Localize(config)));
        MessageSizeGuard.EnsureFits(blueprint.Layout.TotalCount, maxMessageBodySize);
        var provider = contributions(blueprint, ConfigJson.Version(configJson));
        var trainer = await Task.Run(() =>
        {
            var resume = checkpoint is null ? null : Checkpoint.FromBytes(checkpoint, what);
            // The outer step is arithmetic on θ: the thread pool's, not the grain scheduler's.
            return new MetaTrainer(blueprint, provider, resume) { OuterStepRunner = step => Task.Run(step) };
        });
        return new ActiveRun(config, blueprint, trainer, provider);
    }
}
