namespace MetaCluster.Core.Federated;

/// <summary>
/// Replays a run's participation log: each (round, attempt) asks <paramref name="clients"/> only for the updates of
/// the clients that completed in the log and reports the others dropped as they were. Sampling is seeded, so the
/// trainer asks for the same samples; with the same seed this reproduces the logged run's θ bit for bit, however its
/// drops came about (timing, crashes, a network).
/// </summary>
public sealed class ReplayedParticipation(IClientUpdateProvider clients, IReadOnlyList<ParticipationRecord> log) : IClientUpdateProvider
{
    private readonly Dictionary<(long, int), ParticipationRecord> _records = log.ToDictionary(r => (r.Round, r.Attempt));

    public async ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
    {
        if (!_records.TryGetValue((work.Round, work.Attempt), out var record))
            throw new InvalidOperationException($"the participation log has no record of round {work.Round}, attempt {work.Attempt}; replay with the run's own config and seed.");
        if (!record.Sampled.SequenceEqual(work.Participants))
            throw new InvalidOperationException($"round {work.Round}, attempt {work.Attempt} sampled [{string.Join(", ", work.Participants)}] but the log has [{string.Join(", ", record.Sampled)}]; replay with the run's own config and seed.");
        var outcome = await clients.CollectAsync(work with { Participants = record.Completed, Deadline = Timeout.InfiniteTimeSpan }, cancellationToken);
        if (outcome.Dropped.Count > 0)
            throw new InvalidOperationException($"replaying round {work.Round}: client(s) {string.Join(", ", outcome.Dropped.Select(d => d.ClientId))} completed in the log but not now ({outcome.Dropped[0].Detail}).");
        return new FederatedRoundOutcome(outcome.Updates, record.Dropped);
    }
}
