namespace MetaCluster.Core.Training;

/// <summary>
/// Contributions computed here, synchronously, by the run's algorithm: each episode's vector goes into one exact sum
/// as soon as it is computed (no vector kept per episode — for Conv4 that was 14 MB of garbage a round).
/// </summary>
public sealed class InProcessContributions(TrainingRun run) : IContributionProvider
{
    private readonly EpisodeStream _episodes = run.TrainingStream();
    private readonly ExactSum _sum = new(run.Algorithm.Layout.TotalCount);

    public ValueTask<RoundContributions> ContributeAsync(RoundWork work, CancellationToken cancellationToken = default)
    {
        // The sum is reused round after round: the trainer has consumed the last round's before asking again.
        _sum.Clear();
        var (share, episodes) = PartialSum.Collect(_sum, sink => run.Algorithm.Contribute(work.Theta, work.Episodes, _episodes.Sample, sink));
        return ValueTask.FromResult(new RoundContributions([share], episodes));
    }
}
