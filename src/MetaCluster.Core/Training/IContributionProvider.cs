using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>A round's work: its number, θ at its start, and the episodes whose contributions it needs.</summary>
/// <param name="Theta">Read-only for the provider: the trainer takes the outer step on it once the contributions are in.</param>
public sealed record RoundWork(long Round, ParameterSet Theta, long[] Episodes);

/// <summary>
/// What a provider hands back for a round: exact partial sums that together hold every episode's contribution exactly
/// once (any grouping gives the same bits), and each episode's metrics.
/// </summary>
public sealed record RoundContributions(IReadOnlyList<PartialSum> Shares, IReadOnlyList<(long Episode, EpisodeMetrics Metrics)> Metrics);

/// <summary>
/// Who computes a round's contributions — the only thing that differs between training paths: in this process
/// (<see cref="InProcessContributions"/>), the cluster's workers (the coordinator's dispatcher), federated clients.
/// Everything else — the episodes of a round, aggregation, the outer step, checkpoint cadence, resume — is
/// <see cref="MetaTrainer"/>'s, once for every path.
/// </summary>
public interface IContributionProvider
{
    ValueTask<RoundContributions> ContributeAsync(RoundWork work, CancellationToken cancellationToken = default);
}
