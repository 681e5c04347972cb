using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

/// <summary>The round loop's seam: whoever provides the contributions, and however late, θ gets the same bits.</summary>
public class TrainerSeamTests
{
    private static TrainingConfig Config(int checkpointEvery = 1000) =>
        TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 4, MetaBatch = 6, Seed = 9, CheckpointEvery = checkpointEvery };

    /// <summary>Answers after a yield, in three partial sums given back last-first: as a cluster might.</summary>
    private sealed class SplitLateProvider(TrainingRun run) : IContributionProvider
    {
        private readonly EpisodeStream _episodes = run.TrainingStream();
        public int Rounds { get; private set; }

        public async ValueTask<RoundContributions> ContributeAsync(RoundWork work, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            Rounds++;
            var shares = new List<PartialSum>();
            var metrics = new List<(long, Core.Algorithms.EpisodeMetrics)>();
            foreach (var part in work.Episodes.Chunk(2).Reverse())
            {
                var (share, episodes) = PartialSum.Collect(new ExactSum(run.Algorithm.Layout.TotalCount),
                    sink => run.Algorithm.Contribute(work.Theta, part, _episodes.Sample, sink));
                shares.Add(share);
                metrics.InsertRange(0, episodes);
            }
            return new RoundContributions(shares, metrics);
        }
    }

    [Fact]
    public async Task ATrainerOnAProviderThatAnswersLateInSplitSharesEndsWithTheInProcessBitsAndReports()
    {
        var run = RunFactory.Create(Config());
        var inProcess = new MetaTrainer(run);
        var expected = new List<RoundReport>();
        while (!inProcess.Finished) expected.Add(inProcess.RunRound());

        var provider = new SplitLateProvider(run);
        var trainer = new MetaTrainer(RunFactory.CreateBlueprint(Config()), provider) { OuterStepRunner = step => Task.Run(step) };
        var reports = new List<RoundReport>();
        while (!trainer.Finished) reports.Add(await trainer.RunRoundAsync());

        Assert.Equal(4, provider.Rounds);
        Assert.Equal(inProcess.Theta.Values, trainer.Theta.Values);
        Assert.Equal(expected.Select(r => (r.PostLoss, r.PreLoss, r.LearningRate)), reports.Select(r => (r.PostLoss, r.PreLoss, r.LearningRate)));
    }

    [Fact]
    public void RunRoundRefusesAProviderThatAnswersLaterInsteadOfBlockingOnIt()
    {
        var run = RunFactory.Create(Config());
        var trainer = new MetaTrainer(run.Blueprint, new SplitLateProvider(run));
        var error = Assert.Throws<InvalidOperationException>(() => trainer.RunRound());
        Assert.Contains("await RunRoundAsync", error.Message);
    }

    [Fact]
    public void CheckpointsAreDueEveryNRoundsAndAfterTheLast()
    {
        var trainer = new MetaTrainer(RunFactory.Create(Config(checkpointEvery: 3) with { Iterations = 7 }));
        var due = new List<long>();
        while (!trainer.Finished)
        {
            trainer.RunRound();
            if (trainer.CheckpointDue) due.Add(trainer.Round);
        }
        Assert.Equal([3L, 6, 7], due);
    }

    [Fact]
    public void CheckpointEveryZeroMeansOnlyAtTheEnd()
    {
        var config = Config(checkpointEvery: 0);
        config.Validate();
        Assert.Equal([false, false, false, true], Enumerable.Range(1, 4).Select(round => CheckpointCadence.IsDue(round, config)));
        var trainer = new MetaTrainer(RunFactory.Create(config));
        var due = new List<long>();
        while (!trainer.Finished)
        {
            trainer.RunRound();
            if (trainer.CheckpointDue) due.Add(trainer.Round);
        }
        Assert.Equal([4L], due);

        var negative = Assert.Throws<ArgumentException>(() => (config with { CheckpointEvery = -1 }).Validate());
        Assert.Contains("0 for only at the end", negative.Message);
    }

    [Fact]
    public void ABlueprintNeedsNoDataAndHasTheRunsLayoutAndInitialTheta()
    {
        var config = TrainingConfig.ForDataset("omniglot", "maml") with { DataDir = "/nonexistent/omniglot" };
        var blueprint = RunFactory.CreateBlueprint(config);
        Assert.Equal(Core.Episodes.TaskKind.Classification, blueprint.TaskKind);
        Assert.True(blueprint.Layout.TotalCount > 100_000);
        var error = Assert.Throws<FileNotFoundException>(() => RunFactory.WithData(blueprint));
        Assert.Contains("Omniglot zip not found: /nonexistent/omniglot", error.Message);
    }
}
