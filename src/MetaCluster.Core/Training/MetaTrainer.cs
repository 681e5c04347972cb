using System.Diagnostics;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>
/// The round loop, once for every training path. Each round takes the episodes numbered by (seed, round), gets their
/// contributions from an <see cref="IContributionProvider"/> — this process, the cluster's workers, federated
/// clients — adds them exactly and takes the outer step on θ. Because the sum is exact and the episodes are fixed by
/// the round number, θ has the same bits whoever computed what. It also owns the resume rules (θ, optimizer state and
/// round from a checkpoint) and the checkpoint cadence (<see cref="CheckpointDue"/>); hosts decide where checkpoints go.
/// </summary>
public sealed class MetaTrainer
{
    private readonly RunBlueprint _run;
    private readonly IContributionProvider _contributions;
    private readonly IOuterOptimizer _optimizer;

    /// <summary>The single-process trainer: contributions computed here.</summary>
    public MetaTrainer(TrainingRun run, Checkpoint? resume = null) : this(run.Blueprint, new InProcessContributions(run), resume) { }

    public MetaTrainer(RunBlueprint run, IContributionProvider contributions, Checkpoint? resume = null)
    {
        (_run, _contributions) = (run, contributions);
        _optimizer = run.CreateOptimizer();
        if (resume is null)
        {
            Theta = run.InitialParameters();
            TrainingSeconds = 0;
            return;
        }
        if (!resume.Theta.Layout.SameAs(run.Layout))
            throw new CheckpointException($"the checkpoint holds parameters {resume.Theta.Layout.Describe()}, but {run.Algorithm.Name} on {run.Model.Name} needs {run.Layout.Describe()}; resume with the checkpoint's own settings.");
        Theta = resume.Theta.Clone();
        _optimizer.SetState(resume.Optimizer);
        Round = resume.Round;
        TrainingSeconds = resume.TrainingSeconds;
    }

    /// <summary>θ after <see cref="Round"/> rounds. Changed in place by each round's outer step.</summary>
    public ParameterSet Theta { get; }

    /// <summary>Rounds completed so far.</summary>
    public long Round { get; private set; }

    public bool Finished => Round >= _run.Config.Iterations;

    /// <summary>
    /// Wall seconds of the rounds that made <see cref="Theta"/>, the resumed checkpoint's included; null when resumed from
    /// a checkpoint that did not record them (<see cref="Checkpoint.TrainingSeconds"/>).
    /// </summary>
    public double? TrainingSeconds { get; private set; }

    /// <summary>A checkpoint is due now, after the round just completed (see <see cref="CheckpointCadence"/>).</summary>
    public bool CheckpointDue => CheckpointCadence.IsDue(Round, _run.Config);

    /// <summary>
    /// Where the outer step's CPU work runs: inline when null (this process's trainer), on the thread pool for a grain,
    /// whose scheduler must not be held by arithmetic.
    /// </summary>
    public Func<Action, Task>? OuterStepRunner { get; init; }

    /// <summary>
    /// One round on a provider that answers synchronously (<see cref="InProcessContributions"/>): never blocks on
    /// pending work. A provider that answers later is driven with <see cref="RunRoundAsync"/>.
    /// </summary>
    public RoundReport RunRound()
    {
        var pending = RunRoundAsync();
        if (!pending.IsCompleted)
            throw new InvalidOperationException("this trainer's contributions arrive asynchronously; await RunRoundAsync instead.");
        return pending.GetAwaiter().GetResult();
    }

    public async ValueTask<RoundReport> RunRoundAsync(CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        long round = Round;
        var episodes = EpisodeStream.RoundEpisodes(round, _run.Config.MetaBatch);
        var contributions = await _contributions.ContributeAsync(new RoundWork(round, Theta, episodes), cancellationToken);
        double learningRate = 0;
        void Step() => learningRate = ApplyRound(contributions.Shares, episodes, round);
        if (OuterStepRunner is null) Step();
        else await OuterStepRunner(Step);
        Round = round + 1;
        double seconds = watch.Elapsed.TotalSeconds;
        TrainingSeconds += seconds;
        // Metrics in episode order whoever computed them, so the round's means have the same bits on every path.
        var metrics = contributions.Metrics.OrderBy(m => m.Episode).Select(m => m.Metrics).ToArray();
        return RoundReport.From(round, seconds, learningRate, metrics);
    }

    /// <summary>The exact mean of the round's partial sums (the same bits for any grouping) and the outer step on θ in place.</summary>
    private double ApplyRound(IReadOnlyCollection<PartialSum> shares, long[] expectedEpisodes, long round)
    {
        // The mean goes into a buffer kept from round to round: a fresh one was a large-object allocation a round.
        var mean = _mean ??= new float[Theta.Values.Length];
        Aggregator.MeanInto(shares, expectedEpisodes, mean);
        int optimized = _run.Algorithm.OptimizedCount;
        var learned = mean.AsSpan(0, optimized);
        if (_run.Algorithm.Kind == ContributionKind.Delta)
            for (int i = 0; i < learned.Length; i++) learned[i] = -learned[i]; // move toward the adapted weights
        double learningRate = _run.Config.OuterLearningRate(round);
        _optimizer.Step(Theta.Values.AsSpan(0, optimized), learned, learningRate);
        // Carried state takes the tasks' mean change whole: it is where the tasks left it, not something learned.
        for (int i = optimized; i < mean.Length; i++) Theta.Values[i] += mean[i];
        return learningRate;
    }

    private float[]? _mean;

    public Checkpoint ToCheckpoint() => new(_run.Config, Round, Theta.Clone(), _optimizer.GetState(), TrainingSeconds);
}
