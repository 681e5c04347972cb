using System.Diagnostics;
using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Federated;

/// <summary>
/// Clients simulated in this process: every sampled client's update is computed here, one after another, by the
/// same <see cref="IClientTrainer"/> a real client runs. A client whose computation took longer than the round's
/// deadline counts as late (as if each ran on its own device); one that throws counts as failed; and with
/// <see cref="FederatedConfig.FailureRate"/> a seeded share of clients fails before computing — (seed, round,
/// attempt, client) decide which, so drops and re-samples are reproducible.
/// </summary>
public sealed class SimulatedClients(Func<string, IClientTrainer> trainers, FederatedConfig config) : IClientUpdateProvider
{
    public ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
    {
        var updates = new List<ClientUpdate>();
        var dropped = new List<DroppedClient>();
        foreach (string id in work.Participants)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (SimulatedFailure(work, id))
            {
                dropped.Add(new DroppedClient(id, DropReason.Failed, "simulated failure (--failure-rate)"));
                continue;
            }
            var watch = Stopwatch.StartNew();
            try
            {
                var update = trainers(id).Compute(work.Theta, work.Round);
                if (work.Deadline != Timeout.InfiniteTimeSpan && watch.Elapsed > work.Deadline)
                    dropped.Add(new DroppedClient(id, DropReason.Late, $"took {watch.Elapsed.TotalSeconds:0.###} s, deadline {work.Deadline.TotalSeconds:0.###} s"));
                else updates.Add(update);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                dropped.Add(new DroppedClient(id, DropReason.Failed, e.Message));
            }
        }
        return ValueTask.FromResult(new FederatedRoundOutcome(updates, dropped));
    }

    private bool SimulatedFailure(FederatedRoundWork work, string id)
    {
        if (config.FailureRate <= 0) return false;
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(config.Seed, ClientSeeds.FailureStream, work.Round, work.Attempt, ClientSeeds.IdHash(id)));
        return rng.NextDouble() < config.FailureRate;
    }
}
