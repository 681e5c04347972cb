using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Placement;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.Options;

namespace MetaCluster.Grains.Federated;

/// <summary>
/// One worker slot simulating federated clients. Orchestration only: it rebuilds the federation from the run's
/// config (once per process, <see cref="FederationCache"/>), and hands its share of a round to Core's
/// <see cref="SimulatedClients"/> — the same client trainer, failure-rate draw and deadline rule as the in-process
/// simulation — on the slot's own <see cref="ComputeThread"/>, off the Orleans scheduler. Placed like a task worker.
/// </summary>
[WorkerSlotPlacement, WorkerSiloPlacementFilter]
public sealed class FederatedWorkerGrain(IOptions<MetaClusterSiloOptions> options, FederationCache federations, IFaultInjector<ClientWork> faults)
    : WorkerSlotGrain<string, FederatedWorkerGrain.Simulation>("metacluster-federated"), IFederatedWorkerGrain
{
    /// <summary>The simulation built for one config version (the slot's key for it).</summary>
    public sealed record Simulation(FederatedConfig Config, FederatedAlgorithm Algorithm, Func<string, IClientTrainer> Trainers);

    public async Task<FederatedWorkResult> ComputeClients(FederatedWorkRequest request)
    {
        var watch = Stopwatch.StartNew();
        string worker = this.GetPrimaryKeyString();
        if (Built(request.ConfigVersion) is not { } simulation)
        {
            if (request.ConfigJson is null) return new FederatedWorkResult { Worker = worker, NeedsConfig = true };
            if (ConfigJson.Version(request.ConfigJson) != request.ConfigVersion)
                throw new ArgumentException($"simulation '{request.RunId}' names config version {request.ConfigVersion} but sent version {ConfigJson.Version(request.ConfigJson)}.");
            var config = options.Value.Localize(FederatedConfig.FromJson(request.ConfigJson));
            // Build lets the previous simulation's trainers go before building the next.
            simulation = await Build(request.ConfigVersion, () =>
            {
                var federation = federations.Get(config);
                var algorithm = FederatedAlgorithm.Create(config);
                return new Simulation(config, algorithm, FederatedClients.Cached(algorithm, federation));
            });
        }
        var outcome = await Compute.Run(() =>
        {
            var theta = ParameterSet.OverBytes(simulation.Algorithm.Layout, request.Theta);
            var work = new FederatedRoundWork(request.Round, request.Attempt, theta, request.Clients, simulation.Config.Deadline);
            // The fault seam runs where the client's trainer is fetched: inside SimulatedClients' per-client try, so a
            // throw counts that client failed and the others go on.
            var clients = new SimulatedClients(id =>
            {
                faults.Before(new ClientWork(request.RunId, request.Round, request.Attempt, id, worker));
                return simulation.Trainers(id);
            }, simulation.Config);
            var pending = clients.CollectAsync(work);
            return pending.IsCompleted ? pending.Result : throw new InvalidOperationException("simulated clients answer synchronously.");
        });
        return FederatedMessages.ToResult(worker, outcome, watch.Elapsed.TotalSeconds);
    }
}
