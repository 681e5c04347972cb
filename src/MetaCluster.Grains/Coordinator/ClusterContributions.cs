using MetaCluster.Contracts;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Bulk;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.Logging;

namespace MetaCluster.Grains.Coordinator;

/// <summary>How a run's rounds are dealt to worker slots: fixed for the run.</summary>
/// <param name="ConfigVersion">Names the config workers build the run from (they fetch it once from the coordinator).</param>
/// <param name="EpisodesPerCall">How many episodes one reply may carry and stay inside the message size limit.</param>
/// <param name="PerSilo">Dispatch to each worker silo's hub (θ once per silo, one partial sum back) instead of to each slot.</param>
/// <param name="HubGroup">With <paramref name="PerSilo"/>: hubs a group, one of each answering for the group (<see cref="HubGroups"/>); 1 = none.</param>
internal sealed record DispatchSettings(
    string RunId, string ConfigVersion, int MaxWorkers, TimeSpan DeadlineBase, TimeSpan DeadlinePerEpisode, bool PreSum, int EpisodesPerCall, bool PerSilo = false,
    int HubGroup = 1);

/// <summary>
/// The cluster as a contribution provider: each round's episodes go to the live worker slots through a
/// <see cref="RoundDispatcher"/>, which survives workers dying, stalling or failing episodes. θ is turned into its
/// wire bytes once a round, and what comes back is handed to the trainer as exact partial sums — turning bytes into
/// sums runs on the thread pool, off the grain's scheduler.
/// </summary>
internal sealed class ClusterContributions(
    IGrainFactory grains, DispatchSettings settings, int parameterCount, FaultCounters faults,
    WorkerDirectory directory, TimeSpan workerWait, BulkChannel bulk, ILogger logger) : IContributionProvider
{
    /// <summary>
    /// Worker slots live in the round in flight (0 while it waits for one), null between rounds — what status shows
    /// rather than the last completed round's count, which would keep naming workers that are gone.
    /// </summary>
    public int? LiveWorkersNow { get; private set; }

    /// <summary>The round in flight has no worker and waits (up to the silo's worker wait) for one to join.</summary>
    public bool WaitingForWorkers { get; private set; }

    /// <summary>The last round's dispatch (live workers, silos, bytes received), for status and metrics.</summary>
    public RoundOutcome? LastOutcome { get; private set; }

    /// <summary>
    /// θ as last sent, with its round: a consistent snapshot while a round is in flight (θ itself then changes under
    /// the outer step on another thread). Set before the first await of a round. The array is reused two rounds later:
    /// copy it to keep it.
    /// </summary>
    public (long Round, byte[] Theta)? LastSent { get; private set; }

    private readonly ExactSum _roundSum = new(parameterCount);

    /// <summary>
    /// θ's wire bytes, two buffers used in turn by round parity: a fresh 450 KB array a round (a Conv4's θ) was a
    /// large-object allocation whose collections cost the coordinator about a millisecond a round at 64 workers. A buffer
    /// is rewritten two rounds after it was sent: every reply the round accepted was computed while it held that round's
    /// θ, and what still reads it later — a straggler's request, sent or in flight — belongs to a finished round whose
    /// replies the dispatcher no longer takes.
    /// </summary>
    private readonly byte[][] _thetaBuffers = [new byte[parameterCount * sizeof(float)], new byte[parameterCount * sizeof(float)]];

    public async ValueTask<RoundContributions> ContributeAsync(RoundWork work, CancellationToken cancellationToken = default)
    {
        byte[] theta = _thetaBuffers[work.Round & 1];
        work.Theta.WriteBytes(theta);
        LastSent = (work.Round, theta);
        // With hub groups the round goes to each group's leader, standing for its group's slots; otherwise to every target.
        var groups = settings.PerSilo && settings.HubGroup > 1 ? new HubGroups(settings.HubGroup, directory.SlotsOf) : null;
        Func<string, int> slotsOf = groups is null ? directory.SlotsOf : groups.SlotsOf;
        var workers = directory.LiveSlots(settings.MaxWorkers, settings.PerSilo);
        if (workers.Count == 0)
        {
            (LiveWorkersNow, WaitingForWorkers) = (0, true);
            logger.LogWarning("Round {Round}: no worker slot is live; waiting up to {Seconds:F0} s for one to join.", work.Round, workerWait.TotalSeconds);
            workers = await directory.WaitForSlots(settings.MaxWorkers, workerWait, settings.PerSilo);
        }
        if (groups is not null) workers = groups.Lead(workers);
        (LiveWorkersNow, WaitingForWorkers) = (workers.Sum(slotsOf), false);
        // Hubs in other processes fetch θ from the bulk channel (once per process and round) and leave their sums there.
        var ticket = settings.PerSilo && bulk.Enabled ? bulk.PublishShared(theta) : null;
        // One accumulator for every round (rounds run one after another, and the trainer is done with a round's sum
        // before the next is dispatched; a fresh one was a large-object allocation a round). Shares go in as they come.
        _roundSum.Clear();
        var shares = new RoundShareSum(_roundSum);
        var dispatcher = new RoundDispatcher(
            (worker, share) =>
            {
                var members = groups?.MembersOf(worker) ?? [];
                bool viaBulk = ticket is not null && !(bulk.IsThisSilo(worker) && members.All(bulk.IsThisSilo));
                var request = new WorkRequest
                {
                    RunId = settings.RunId, Round = work.Round, ConfigVersion = settings.ConfigVersion, Theta = viaBulk ? [] : theta, ThetaTicket = viaBulk ? ticket : null,
                    Episodes = share, PreSum = settings.PreSum, Members = members, MemberSlots = members.Select(directory.SlotsOf).ToArray(),
                };
                return settings.PerSilo ? bulk.ReceiveSum(grains.GetGrain<ISiloHubGrain>(worker).Contribute(request)) : grains.GetGrain<ITaskWorkerGrain>(worker).Contribute(request);
            },
            count => settings.DeadlineBase + settings.DeadlinePerEpisode * count, settings.EpisodesPerCall, faults, logger,
            new WorkerWait(workerWait, async excluded =>
            {
                var joined = await directory.WaitForSlots(settings.MaxWorkers, workerWait, excluded, settings.PerSilo);
                return groups is null ? joined : groups.Lead(joined);
            }),
            live => (LiveWorkersNow, WaitingForWorkers) = (live, live == 0), slotsOf, shares.Take);
        try
        {
            var outcome = LastOutcome = await dispatcher.Run(work.Round, workers, work.Episodes);
            return await Task.Run(async () => ToContributions(outcome, await shares.Complete()), cancellationToken);
        }
        finally
        {
            (LiveWorkersNow, WaitingForWorkers) = (null, false);
            if (ticket is not null) bulk.Withdraw(ticket); // a straggler of this round that fetches now fails, as its reply would be ignored
            await shares.Settled(); // a failed round's adds too: the next round clears the sum they write into
        }
    }

    /// <summary>
    /// The round as one share: the workers' pre-summed shares, already added from their bytes as they came
    /// (<see cref="RoundShareSum"/>), and every episode sent as a vector. The sum is exact, so these are the bits of adding
    /// every episode one by one, in any order; adding in place keeps the coordinator from allocating and copying a sum
    /// per worker (at 64 workers that churn was most of its CPU).
    /// </summary>
    private static RoundContributions ToContributions(RoundOutcome outcome, (IReadOnlyList<long[]> Episodes, ExactSum Sum) shares)
    {
        var vectors = new List<long>();
        foreach (var c in outcome.Contributions.Where(c => c.Values.Length > 0))
        {
            shares.Sum.Add(FloatBytes.AsFloats(c.Values), $"episode {c.Episode}");
            vectors.Add(c.Episode);
        }
        var all = shares.Episodes.SelectMany(e => e).Concat(vectors).ToArray();
        return new RoundContributions([new PartialSum(all, shares.Sum)], outcome.Contributions.Select(c => (c.Episode, MetricsOf(c))).ToArray());
    }

    private static EpisodeMetrics MetricsOf(EpisodeContribution c) => new(c.PreLoss, c.PostLoss, c.PreAccuracy, c.PostAccuracy);
}
