using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class TrainingTests
{
    private static TrainingConfig Sinusoid(string algorithm, int iterations, ulong seed = 1) =>
        TrainingConfig.ForDataset("sinusoid", algorithm) with { Iterations = iterations, Seed = seed };

    [Fact]
    public void SinusoidMamlLearnsToAdaptInOneStep()
    {
        var run = RunFactory.Create(Sinusoid("maml", 1000));
        var trainer = new MetaTrainer(run);
        var fixedTasks = run.EvaluationStream(seed: 12345);
        var untrained = run.InitialParameters();
        var untrainedAfterOne = Evaluator.Evaluate(run.Algorithm, untrained, fixedTasks, 100, steps: 1, BatchNormMode.Transductive);
        while (!trainer.Finished) trainer.RunRound();

        var before = Evaluator.Evaluate(run.Algorithm, trainer.Theta, fixedTasks, 100, steps: 0, BatchNormMode.Transductive);
        var after = Evaluator.Evaluate(run.Algorithm, trainer.Theta, fixedTasks, 100, steps: 1, BatchNormMode.Transductive);
        Assert.True(after.Loss!.Mean < 0.6 * before.Loss!.Mean,
            $"after one step the query MSE should drop clearly: {before.Loss!.Mean:F3} → {after.Loss!.Mean:F3} (untrained: {untrainedAfterOne.Loss!.Mean:F3})");
        Assert.True(after.Loss!.Mean < 0.6 * untrainedAfterOne.Loss!.Mean,
            $"meta-training should beat the untrained initialisation: {untrainedAfterOne.Loss!.Mean:F3} vs {after.Loss!.Mean:F3}");
    }

    [Theory]
    [InlineData("maml")]
    [InlineData("fomaml")]
    [InlineData("reptile")]
    [InlineData("metasgd")]
    [InlineData("anil")]
    public void TheSameSeedGivesBitIdenticalParameters(string algorithm)
    {
        float[] Train(ulong seed)
        {
            var trainer = new MetaTrainer(RunFactory.Create(Sinusoid(algorithm, 4, seed) with { MetaBatch = 5 }));
            while (!trainer.Finished) trainer.RunRound();
            return trainer.Theta.Values;
        }
        var first = Train(3);
        Assert.Equal(first, Train(3));
        Assert.NotEqual(first, Train(4));
    }

    [Fact]
    public void ResumingFromACheckpointGivesTheUninterruptedRunsBits()
    {
        var config = Sinusoid("maml", 6) with { MetaBatch = 5 };
        var straight = new MetaTrainer(RunFactory.Create(config));
        while (!straight.Finished) straight.RunRound();

        var first = new MetaTrainer(RunFactory.Create(config));
        for (int i = 0; i < 3; i++) first.RunRound();
        var resumed = ResumedThroughACheckpointFile(first).Trainer;
        Assert.Equal(3, resumed.Round);
        while (!resumed.Finished) resumed.RunRound();
        Assert.Equal(straight.Theta.Values, resumed.Theta.Values);
    }

    [Fact]
    public void TheCheckpointCarriesTheRunsTrainingSecondsAcrossResumes()
    {
        var config = Sinusoid("maml", 5) with { MetaBatch = 5 };
        var first = new MetaTrainer(RunFactory.Create(config));
        Assert.Equal(0.0, first.TrainingSeconds);
        double expected = 0;
        for (int i = 0; i < 3; i++) expected += first.RunRound().Seconds;
        Assert.True(expected > 0);
        Assert.Equal(expected, first.TrainingSeconds);

        var (resumed, checkpoint) = ResumedThroughACheckpointFile(first);
        Assert.Equal(expected, checkpoint.TrainingSeconds);
        while (!resumed.Finished) expected += resumed.RunRound().Seconds; // the resumed process adds its own rounds
        Assert.Equal(expected, resumed.TrainingSeconds);
        Assert.Equal(expected, resumed.ToCheckpoint().TrainingSeconds);

        // A checkpoint that did not record its time (written before this was kept) gives no total ever after, rather
        // than a total that leaves out the rounds before it.
        var untimed = new MetaTrainer(RunFactory.Create(config), checkpoint with { TrainingSeconds = null });
        untimed.RunRound();
        Assert.Null(untimed.TrainingSeconds);
        Assert.Null(untimed.ToCheckpoint().TrainingSeconds);
    }

    /// <summary>A new trainer from <paramref name="trainer"/>'s checkpoint, saved to and loaded from a file (then deleted).</summary>
    private static (MetaTrainer Trainer, Checkpoint Checkpoint) ResumedThroughACheckpointFile(MetaTrainer trainer)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mc-{Guid.NewGuid():N}", Checkpoint.FileName);
        trainer.ToCheckpoint().Save(path);
        try
        {
            var checkpoint = Checkpoint.Load(path);
            return (new MetaTrainer(RunFactory.Create(checkpoint.Config), checkpoint), checkpoint);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void ReptileOuterStepMovesThetaTowardTheMeanAdaptedWeightsWithAnnealing()
    {
        var config = Sinusoid("reptile", 10) with { MetaBatch = 3, OuterLr = 0.5, OuterLrFinal = 0.0 };
        var run = RunFactory.Create(config);
        var trainer = new MetaTrainer(run);
        var before = trainer.Theta.Clone();
        var stream = run.TrainingStream();
        var deltas = run.Algorithm.Contribute(before, EpisodeStream.RoundEpisodes(0, 3), stream.Sample);
        trainer.RunRound();
        for (int i = 0; i < before.Values.Length; i++)
        {
            double mean = deltas.Average(d => (double)d.Values[i]);
            Assert.Equal(before.Values[i] + 0.5 * mean, trainer.Theta.Values[i], 1e-6);
        }
        Assert.Equal(0.5 * 0.5, config.OuterLearningRate(5), 12);
    }

    [Fact]
    public void ReptilesCarriedAdamStateTakesTheTasksMeanChangeWholeAndResumesExactly()
    {
        var config = Sinusoid("reptile", 6) with { MetaBatch = 3, OuterLr = 0.5, OuterLrFinal = 0.0, ReptileInner = "adam", InnerLr = 0.001, InnerSteps = 4, ReptileAdamState = "carried" };
        var run = RunFactory.Create(config);
        var trainer = new MetaTrainer(run);
        int weights = run.Model.Layout.TotalCount;
        Assert.Equal(2 * weights + 1, trainer.Theta.Values.Length);
        Assert.All(trainer.Theta.Values[weights..], v => Assert.Equal(0f, v)); // a fresh Adam to start
        for (int round = 0; round < 2; round++)
        {
            var before = trainer.Theta.Clone();
            var changes = run.Algorithm.Contribute(before, EpisodeStream.RoundEpisodes(round, 3), run.TrainingStream().Sample);
            double rate = config.OuterLearningRate(round);
            trainer.RunRound();
            for (int i = 0; i < before.Values.Length; i++)
            {
                double mean = changes.Average(d => (double)d.Values[i]);
                // The weights move by the annealed ε toward the tasks' mean; the Adam state takes the mean change whole.
                Assert.Equal(before.Values[i] + (i < weights ? rate : 1.0) * mean, trainer.Theta.Values[i], 1e-6);
            }
            Assert.Equal(4f * (round + 1), trainer.Theta.Values[^1]);
        }
        Assert.Contains(trainer.Theta.Values[weights..^1], v => v > 0);

        // The state is in the checkpoint: a resumed run ends on the uninterrupted run's bits.
        while (!trainer.Finished) trainer.RunRound();
        var first = new MetaTrainer(RunFactory.Create(config));
        for (int i = 0; i < 3; i++) first.RunRound();
        var (resumed, checkpoint) = ResumedThroughACheckpointFile(first);
        Assert.Equal("carried", checkpoint.Config.ReptileAdamState);
        while (!resumed.Finished) resumed.RunRound();
        Assert.Equal(trainer.Theta.Values, resumed.Theta.Values);
    }

    [Fact]
    public void TheReptileAdamStateOptionIsCheckedAndLeftOutOfTheJsonWhenUnset()
    {
        var reptile = TrainingConfig.ForDataset("omniglot", "reptile") with { ReptileAdamState = "carried" };
        reptile.Validate();
        var sgd = Assert.Throws<ArgumentException>(() => (reptile with { ReptileInner = "sgd" }).Validate());
        Assert.Contains("--reptile-inner adam", sgd.Message);
        Assert.Throws<ArgumentException>(() => (TrainingConfig.ForDataset("omniglot", "maml") with { ReptileAdamState = "carried" }).Validate());
        Assert.Throws<ArgumentException>(() => (reptile with { ReptileAdamState = "kept" }).Validate());
        Assert.DoesNotContain("ReptileAdamState", System.Text.Json.JsonSerializer.Serialize(reptile with { ReptileAdamState = null }));
        var read = System.Text.Json.JsonSerializer.Deserialize<TrainingConfig>(System.Text.Json.JsonSerializer.Serialize(reptile))!;
        Assert.Equal("carried", read.ReptileAdamState);
        // The layout carries the state: a checkpoint of one kind cannot be resumed as the other.
        Assert.False(RunFactory.CreateBlueprint(read).Layout.SameAs(RunFactory.CreateBlueprint(read with { ReptileAdamState = null }).Layout));
    }

    [Fact]
    public void StepDecayHalvesTheOuterRateEveryNRoundsWhateverTheRunLength()
    {
        var config = TrainingConfig.ForDataset("omniglot", "protonet") with { OuterLr = 0.001 };
        Assert.Equal(2000, config.OuterLrHalveEvery); // Snell et al. 2017's schedule is protonet's default
        foreach (int iterations in new[] { 3000, 20_000 })
        {
            var run = config with { Iterations = iterations };
            Assert.Equal(0.001, run.OuterLearningRate(0));
            Assert.Equal(0.001, run.OuterLearningRate(1999));
            Assert.Equal(0.0005, run.OuterLearningRate(2000));
            Assert.Equal(0.00025, run.OuterLearningRate(5999));
            Assert.Equal(0.000125, run.OuterLearningRate(6000));
        }
        var clash = Assert.Throws<ArgumentException>(() => (config with { OuterLrFinal = 0.0 }).Validate());
        Assert.Contains("--outer-lr-final none", clash.Message);
        Assert.Throws<ArgumentException>(() => (config with { OuterLrHalveEvery = -1 }).Validate());
    }

    [Fact]
    public void TheOmniglotNetworkOptionsAreCheckedAndLeftOutOfTheJsonWhenUnset()
    {
        var omniglot = TrainingConfig.ForDataset("omniglot", "reptile");
        (omniglot with { ConvDownsample = "stride", InnerBatch = 10, EvalBatch = 5 }).Validate();
        var wrongModel = Assert.Throws<ArgumentException>(() => (TrainingConfig.ForDataset("sinusoid", "maml") with { ConvDownsample = "stride" }).Validate());
        Assert.Contains("has no Conv4", wrongModel.Message);
        Assert.Throws<ArgumentException>(() => (omniglot with { ConvDownsample = "pool" }).Validate());
        var wrongAlgorithm = Assert.Throws<ArgumentException>(() => (TrainingConfig.ForDataset("omniglot", "maml") with { InnerBatch = 10 }).Validate());
        Assert.Contains("Reptile", wrongAlgorithm.Message);
        Assert.Throws<ArgumentException>(() => (omniglot with { InnerBatch = -1 }).Validate());
        Assert.Contains("evaluation mini-batches", Assert.Throws<ArgumentException>(() => (TrainingConfig.ForDataset("omniglot", "maml") with { EvalBatch = 5 }).Validate()).Message);
        Assert.Throws<ArgumentException>(() => (omniglot with { EvalBatch = -1 }).Validate());

        // Unset, neither is written: the configs in checkpoints from before them read and hash as they did.
        string json = System.Text.Json.JsonSerializer.Serialize(omniglot);
        Assert.DoesNotContain("ConvDownsample", json);
        Assert.DoesNotContain("InnerBatch", json);
        Assert.DoesNotContain("EvalBatch", json);
        var strided = System.Text.Json.JsonSerializer.Deserialize<TrainingConfig>(System.Text.Json.JsonSerializer.Serialize(omniglot with { ConvDownsample = "stride", InnerBatch = 10, EvalBatch = 5 }))!;
        Assert.Equal(("stride", 10, 5), (strided.ConvDownsample, strided.InnerBatch, strided.EvalBatch));
        var model = (Models.Conv4)RunFactory.CreateBlueprint(strided).Model;
        Assert.Equal(64, model.FeatureCount);
        Assert.Equal(Models.Downsampling.StridedConv, model.Downsampling);
    }
}
