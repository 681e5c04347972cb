using System.Security.Cryptography;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Hosting;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// A run as its coordinator drives it: the config, its blueprint (model and algorithm — the coordinator never loads
/// the data), Core's trainer and the cluster as its contribution provider.
/// </summary>
internal sealed record ActiveRun(TrainingConfig Config, RunBlueprint Blueprint, MetaTrainer Trainer, ClusterContributions Contributions)
{
    /// <summary>
    /// Builds the run of a coordinator's record from its config JSON, starting from the seed's initial θ or from the
    /// record's checkpoint (θ, optimizer state, round: Core's resume rules). Throws before anything is sent if θ cannot
    /// fit one message.
    /// </summary>
    public static async Task<ActiveRun> Build(CoordinatorRecord run, string runId, string what, MetaClusterSiloOptions silo, int maxMessageBodySize,
        IGrainFactory grains, WorkerDirectory workers, Bulk.BulkChannel bulk, ILogger logger)
    {
        var config = ConfigJson.Read(run.ConfigJson!);
        var blueprint = await Task.Run(() => RunFactory.CreateBlueprint(silo.Localize(config)));
        int parameters = blueprint.Layout.TotalCount;
        MessageSizeGuard.EnsureFits(parameters, maxMessageBodySize);
        var settings = new DispatchSettings(runId, ConfigJson.Version(run.ConfigJson!), run.MaxWorkers, run.WorkerDeadlineBase, run.WorkerDeadlinePerEpisode,
            PreSum: !run.PerEpisodeContributions,
            // A hub's pre-summed reply is one sum whatever the share's size: a silo gets its whole share, and θ, in one call.
            EpisodesPerCall: run.PerSiloDispatch && !run.PerEpisodeContributions ? int.MaxValue : MessageSizeGuard.EpisodesPerCall(parameters, maxMessageBodySize),
            run.PerSiloDispatch, run.HubGroup);
        var provider = new ClusterContributions(grains, settings, parameters, run.Faults, workers, silo.WorkerWaitTimeout, bulk, logger);
        await Task.Run(() => CheckpointFiles.RemoveStaleTemporaries(run.CheckpointDirectory, runId, logger));
        var trainer = await Task.Run(() =>
        {
            var resume = run.Checkpoint is { } bytes ? Checkpoint.FromBytes(bytes, what) : null;
            // The outer step is arithmetic on θ: the thread pool's, not the grain scheduler's.
            return new MetaTrainer(blueprint, provider, resume) { OuterStepRunner = step => Task.Run(step) };
        });
        return new ActiveRun(config, blueprint, trainer, provider);
    }

    /// <summary>
    /// θ with its round, hashed here — when asked, not every round. While a round is in flight θ is the bytes sent for
    /// it (θ itself may be under the outer step on another thread); between rounds it is the trainer's.
    /// </summary>
    public ThetaSnapshot Snapshot(bool roundInFlight)
    {
        // (The bytes sent are a buffer the coordinator reuses: a copy, as the answer may be serialized after it changes.)
        var (round, values) = roundInFlight && Contributions.LastSent is { } sent ? (sent.Round, sent.Theta.ToArray()) : (Trainer.Round, Trainer.Theta.ToBytes());
        return new ThetaSnapshot { Round = round, Values = values, Sha256 = Convert.ToHexStringLower(SHA256.HashData(values)) };
    }
}
