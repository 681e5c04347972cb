using System.Text.Json;
using MetaCluster.Core.Federated;
using MetaCluster.Gateway;

namespace MetaCluster.Server.Federation;

/// <summary>
/// Drives the server's federated run: Core's <see cref="FederatedTrainer"/> over the gateway's clients
/// (<see cref="GatewayClientUpdates"/>) — the same trainer as <c>metacluster federated simulate</c>, so the same seed,
/// clients and participation give the same θ bits. Checkpoints at the config's cadence, when stopped and at the end
/// (a restarted server resumes from it); at the end one JSON line on stdout with θ's SHA-256, and the clients are told
/// the run is finished. This is orchestration only: sampling, screening, aggregation and the step are the trainer's.
/// </summary>
internal sealed class FederatedRunHost(FederatedRunPlan plan, FederationRounds rounds, FederationMetrics metrics, ILogger<FederatedRunHost> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        await Task.Yield(); // off the host's start-up path
        var algorithm = FederatedAlgorithm.Create(plan.Config);
        using var clients = new GatewayClientUpdates(rounds, plan.Config.ToJson());
        var trainer = new FederatedTrainer(algorithm, plan.Clients, clients, plan.Resume);
        log.LogInformation("Federated run: {Algorithm} on {Dataset}, {Clients} client(s), {PerRound} a round, round {Round} of {Rounds}; checkpoint {Path}.",
            plan.Config.Algorithm, plan.Config.Dataset, plan.Clients.Count, plan.Config.ClientsPerRound, trainer.Round, plan.Config.Rounds, plan.CheckpointPath);
        string outcome = "finished";
        try
        {
            while (!trainer.Finished)
            {
                var report = await trainer.RunRoundAsync(stopping);
                metrics.Round(report);
                log.LogInformation("Federated round {Round}: {Completed}/{Sampled} client(s) in {Attempts} sample(s), dropped {Late} late, {Failed} failed, {Refused} refused; {Seconds:F2} s.",
                    report.Round, report.Participants.Count, report.Sampled, report.Attempts,
                    report.Dropped[DropReason.Late], report.Dropped[DropReason.Failed], report.Dropped[DropReason.Refused], report.Seconds);
                if (trainer.CheckpointDue) Save(trainer);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            outcome = "stopped";
        }
        catch (FederatedRoundException e)
        {
            outcome = "failed";
            log.LogError("Federated run failed at round {Round}: {Message}", trainer.Round, e.Message);
        }
        Save(trainer);
        Console.Out.WriteLine(JsonSerializer.Serialize(new
        {
            federated_run = outcome,
            rounds = trainer.Round,
            train_wall_seconds = trainer.TrainingSeconds,
            theta_sha256 = trainer.Theta.Sha256(),
            checkpoint = plan.CheckpointPath,
        }));
        Console.Out.Flush();
    }

    private void Save(FederatedTrainer trainer)
    {
        try
        {
            trainer.ToCheckpoint().Save(plan.CheckpointPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full or read-only disk must not stop the clients' rounds: the run goes on and says so.
            log.LogWarning("Federated checkpoint {Path} could not be written: {Message}", plan.CheckpointPath, e.Message);
        }
    }
}
