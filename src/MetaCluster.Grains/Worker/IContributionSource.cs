using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// Where a worker slot's contributions come from: the run's algorithm in production. A benchmark of the
/// coordinator swaps in a source that answers at once, to measure what one coordinator can aggregate.
/// </summary>
public interface IContributionSource
{
    IReadOnlyList<Contribution> Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample);

    /// <summary>The same contributions, each handed to <paramref name="sink"/> as it is computed (a pre-summing worker keeps none).</summary>
    void Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample, ContributionSink sink);
}

internal sealed class AlgorithmContributions : IContributionSource
{
    public IReadOnlyList<Contribution> Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample) =>
        run.Algorithm.Contribute(theta, episodes, sample);

    public void Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample, ContributionSink sink) =>
        run.Algorithm.Contribute(theta, episodes, sample, sink);
}
