using System.Diagnostics;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>What one round (meta-iteration) did.</summary>
public sealed record RoundReport(
    long Round, int Episodes, double Seconds, double LearningRate,
    double? PreLoss, double PostLoss, double? PreAccuracy, double? PostAccuracy)
{
    public static RoundReport From(long round, double seconds, double learningRate, IReadOnlyCollection<EpisodeMetrics> episodes)
    {
        double? Mean(Func<EpisodeMetrics, double?> pick) =>
            episodes.Select(pick).Any(v => v is null) ? null : episodes.Average(m => pick(m)!.Value);
        return new RoundReport(round, episodes.Count, seconds, learningRate,
            Mean(m => m.PreLoss), Mean(m => m.PostLoss)!.Value, Mean(m => m.PreAccuracy), Mean(m => m.PostAccuracy));
    }
}

/// <summary>
/// The single-process trainer: each round computes the meta-batch's contributions, aggregates them in episode
/// order and applies the outer optimizer. The cluster runs the same three steps with the contributions computed on
/// workers; <see cref="ApplyRound"/> is the part the coordinator shares.
/// </summary>
public sealed class MetaTrainer
{
    private readonly TrainingRun _run;
    private readonly EpisodeStream _episodes;
    private readonly IOuterOptimizer _optimizer;
    private readonly ExactSum _sum;

    public MetaTrainer(TrainingRun run, Checkpoint? resume = null)
    {
        _run = run;
        _episodes = run.TrainingStream();
        _optimizer = run.CreateOptimizer();
        _sum = new ExactSum(run.Algorithm.Layout.TotalCount);
        if (resume is null)
        {
            Theta = run.InitialParameters();
            return;
        }
        if (!resume.Theta.Layout.SameAs(run.Algorithm.Layout))
            throw new CheckpointException($"the checkpoint holds parameters {resume.Theta.Layout.Describe()}, but {run.Algorithm.Name} on {run.Model.Name} needs {run.Algorithm.Layout.Describe()}; resume with the checkpoint's own settings.");
        Theta = resume.Theta.Clone();
        _optimizer.SetState(resume.Optimizer);
        Round = resume.Round;
    }

    public ParameterSet Theta { get; }

    /// <summary>Rounds completed so far.</summary>
    public long Round { get; private set; }

    public bool Finished => Round >= _run.Config.Iterations;

    /// <summary>
    /// One round: each episode's contribution goes into the exact sum as soon as it is computed (no vector is kept per
    /// episode — for Conv4 that was 14 MB of garbage a round), which gives the bits of summing them all afterwards.
    /// </summary>
    public RoundReport RunRound()
    {
        var watch = Stopwatch.StartNew();
        var indices = EpisodeStream.RoundEpisodes(Round, _run.Config.MetaBatch);
        _sum.Clear();
        var (share, episodes) = PartialSum.Collect(_sum, sink => _run.Algorithm.Contribute(Theta, indices, _episodes.Sample, sink));
        double learningRate = ApplyRound(_run, _optimizer, Theta, Round, [share], indices);
        return RoundReport.From(Round++, watch.Elapsed.TotalSeconds, learningRate, episodes.Select(e => e.Metrics).ToArray());
    }

    /// <summary>
    /// Adds up a round's exact partial sums (the trainer's one, or the workers' shares: the same bits either way) and
    /// takes the outer step on θ in place.
    /// </summary>
    public static double ApplyRound(TrainingRun run, IOuterOptimizer optimizer, ParameterSet theta, long round,
        IReadOnlyCollection<PartialSum> shares, IReadOnlyCollection<long> expectedEpisodes)
    {
        var mean = Aggregator.Mean(shares, expectedEpisodes);
        if (run.Algorithm.Kind == ContributionKind.Delta)
            for (int i = 0; i < mean.Length; i++) mean[i] = -mean[i]; // move toward the adapted weights
        double learningRate = run.Config.OuterLearningRate(round);
        optimizer.Step(theta.Values, mean, learningRate);
        return learningRate;
    }

    public Checkpoint ToCheckpoint() => new(_run.Config, Round, Theta.Clone(), _optimizer.GetState());
}
