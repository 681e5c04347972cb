using System.Collections.Concurrent;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// The test silos' contribution source: the run's algorithm, except that for a run seed a test names, the summed pass
/// (the one a pre-summing worker makes) throws — so the worker's fallback to vectors per episode is exercised.
/// </summary>
public sealed class TestContributions : IContributionSource
{
    public static TestContributions Instance { get; } = new();
    private readonly ConcurrentDictionary<ulong, string> _failSummedPass = new();
    private readonly ConcurrentDictionary<ulong, IContributionSource> _simulated = new();

    /// <summary>Runs with this seed get their contributions from <paramref name="source"/> (a simulated GPU worker).</summary>
    public void Simulate(ulong seed, IContributionSource source) => _simulated[seed] = source;

    public void FailSummedPass(ulong seed, string message) => _failSummedPass[seed] = message;

    /// <summary>The summed pass of runs with this seed hands the sink its share's first episode, then throws.</summary>
    public void FailSummedPassAfterOne(ulong seed, string message) => _failAfterOne[seed] = message;
    private readonly ConcurrentDictionary<ulong, string> _failAfterOne = new();

    public IReadOnlyList<Contribution> Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample) =>
        _simulated.TryGetValue(run.Config.Seed, out var simulated) ? simulated.Contribute(run, theta, episodes, sample)
        : run.Algorithm.Contribute(theta, episodes, sample);

    public void Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample, ContributionSink sink)
    {
        if (_failSummedPass.TryGetValue(run.Config.Seed, out var message)) throw new InvalidOperationException(message);
        if (_failAfterOne.TryGetValue(run.Config.Seed, out var after) && episodes.Count > 1)
        {
            run.Algorithm.Contribute(theta, episodes.Take(1).ToList(), sample, sink);
            throw new InvalidOperationException(after);
        }
        if (_simulated.TryGetValue(run.Config.Seed, out var simulated))
        {
            simulated.Contribute(run, theta, episodes, sample, sink);
            return;
        }
        run.Algorithm.Contribute(theta, episodes, sample, sink);
    }
}
