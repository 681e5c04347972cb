using MetaCluster.Contracts;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Grains.Coordinator;

/// <summary>How a run's rounds are dealt to worker slots: fixed for the run.</summary>
/// <param name="ConfigVersion">Names the config workers build the run from (they fetch it once from the coordinator).</param>
/// <param name="EpisodesPerCall">How many episodes one reply may carry and stay inside the message size limit.</param>
internal sealed record DispatchSettings(
    string RunId, string ConfigVersion, int MaxWorkers, TimeSpan DeadlineBase, TimeSpan DeadlinePerEpisode, bool PreSum, int EpisodesPerCall);

/// <summary>
/// The cluster as a contribution provider: each round's episodes go to the live worker slots through a
/// <see cref="RoundDispatcher"/>, which survives workers dying, stalling or failing episodes. θ is turned into its
/// wire bytes once a round, and what comes back is handed to the trainer as exact partial sums — turning bytes into
/// sums runs on the thread pool, off the grain's scheduler.
/// </summary>
internal sealed class ClusterContributions(
    IGrainFactory grains, DispatchSettings settings, int parameterCount, FaultCounters faults,
    Func<int, Task<IReadOnlyList<string>>> liveWorkers, ILogger logger) : IContributionProvider
{
    /// <summary>The last round's dispatch (live workers, silos, bytes received), for status and metrics.</summary>
    public RoundOutcome? LastOutcome { get; private set; }

    /// <summary>
    /// θ as last sent, with its round: a consistent snapshot while a round is in flight (θ itself then changes under
    /// the outer step on another thread). Set before the first await of a round.
    /// </summary>
    public (long Round, byte[] Theta)? LastSent { get; private set; }

    public async ValueTask<RoundContributions> ContributeAsync(RoundWork work, CancellationToken cancellationToken = default)
    {
        byte[] theta = work.Theta.ToBytes();
        LastSent = (work.Round, theta);
        var workers = await liveWorkers(settings.MaxWorkers);
        var dispatcher = new RoundDispatcher(
            (worker, share) => grains.GetGrain<ITaskWorkerGrain>(worker).Contribute(new WorkRequest
            {
                RunId = settings.RunId, Round = work.Round, ConfigVersion = settings.ConfigVersion, Theta = theta, Episodes = share, PreSum = settings.PreSum,
            }),
            count => settings.DeadlineBase + settings.DeadlinePerEpisode * count, settings.EpisodesPerCall, faults, logger);
        var outcome = LastOutcome = await dispatcher.Run(work.Round, workers, work.Episodes);
        return await Task.Run(() => ToContributions(outcome), cancellationToken);
    }

    /// <summary>
    /// The workers' pre-summed shares, plus one share of every episode sent as a vector: the sum is exact, so these are
    /// the bits of adding every episode one by one, in any order.
    /// </summary>
    private RoundContributions ToContributions(RoundOutcome outcome)
    {
        var shares = outcome.Shares.Select(s => new PartialSum(s.Episodes, ExactSum.FromBytes(s.Sum))).ToList();
        var vectors = outcome.Contributions.Where(c => c.Values.Length > 0).ToArray();
        if (vectors.Length > 0)
        {
            var (share, _) = PartialSum.Collect(new ExactSum(parameterCount), sink =>
            {
                foreach (var c in vectors) sink(c.Episode, FloatBytes.AsFloats(c.Values), MetricsOf(c));
            });
            shares.Add(share);
        }
        return new RoundContributions(shares, outcome.Contributions.Select(c => (c.Episode, MetricsOf(c))).ToArray());
    }

    private static EpisodeMetrics MetricsOf(EpisodeContribution c) => new(c.PreLoss, c.PostLoss, c.PreAccuracy, c.PostAccuracy);
}
