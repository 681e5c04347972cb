using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>MAML++ (Antoniou et al. 2019): gradients against finite differences, the schedules by hand, learning.</summary>
public class MamlPlusPlusTests(ITestOutputHelper output)
{
    private static readonly AlgorithmOptions ThreeSteps = new() { InnerSteps = 3, InnerLearningRate = 0.05 };

    /// <summary>θ with every value of the named parameters scaled by a random factor in [0.5, 1.5] (so steps and layers differ, as after meta-training).</summary>
    private static ParameterSet Perturbed(ParameterSet theta, Func<string, bool> which, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        foreach (var p in theta.Layout.Parameters.Where(p => which(p.Name)))
            for (int i = p.Offset; i < p.Offset + p.Count; i++) theta.Values[i] = theta.Values[i] * (float)rng.NextDouble(0.5, 1.5) + (float)rng.NextDouble(-0.1, 0.1);
        return theta;
    }

    private static int[] CoordinatesOf(ParameterLayout layout, Func<string, bool> which) =>
        layout.Parameters.Where(p => which(p.Name)).SelectMany(p => Enumerable.Range(p.Offset, p.Count)).ToArray();

    [Fact]
    public void SecondOrderGradientWithRespectToTheLearnedPerStepRatesMatchesFiniteDifferences()
    {
        var model = new Mlp(1, 8, 8, 1);
        var algorithm = new MamlPlusPlus(model, ThreeSteps, new MamlPlusPlusOptions { LearnedInnerRates = true });
        Assert.Equal(new long[] { 3 }, algorithm.Layout.Parameters.Single(p => p.Name == "lr.fc1.weight").Shape);
        var theta = Perturbed(algorithm.Initialize(3), name => name.StartsWith("lr."), seed: 9);
        using var episode = TestEpisodes.Sinusoid();
        // Every rate (6 tensors × 3 steps), then a sample of the weights.
        var rates = CoordinatesOf(theta.Layout, name => name.StartsWith("lr."));
        Assert.Equal(18, rates.Length);
        double rateError = GradientCheck.RelativeError(algorithm, theta, episode, coordinates: rates.Length, seed: 1, candidates: rates);
        Assert.True(rateError < 1e-5, $"relative error on the rates {rateError:E2}");
        double weightError = GradientCheck.RelativeError(algorithm, theta, episode, coordinates: 40, seed: 2, candidates: Enumerable.Range(0, model.Layout.TotalCount).ToArray());
        Assert.True(weightError < 1e-5, $"relative error on the weights {weightError:E2}");
    }

    [Fact]
    public void SecondOrderGradientWithRespectToThePerStepBatchNormWeightsMatchesFiniteDifferences()
    {
        var model = new Conv4(classes: 3, filters: 3, imageSize: 16);
        var algorithm = new MamlPlusPlus(model, new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.1 },
            new MamlPlusPlusOptions { PerStepBatchNorm = true, LearnedInnerRates = true });
        // Step 1 has its own γ, β; BN is not adapted, so it has no rates.
        Assert.Contains(algorithm.Layout.Parameters, p => p.Name == "step1.bn4.bias");
        Assert.DoesNotContain(algorithm.Layout.Parameters, p => p.Name.StartsWith("lr.bn"));
        var theta = Perturbed(algorithm.Initialize(4), name => name.Contains("bn"), seed: 5);
        using var episode = TestEpisodes.Images(ways: 3, shots: 2, queries: 2, size: 16, seed: 5);
        var batchNorm = CoordinatesOf(theta.Layout, name => name.Contains("bn"));
        var stepOne = CoordinatesOf(theta.Layout, name => name.StartsWith("step1."));
        double error = GradientCheck.RelativeError(algorithm, theta, episode, coordinates: 24, seed: 3, candidates: batchNorm);
        Assert.True(error < 1e-4, $"relative error on the per-step BN weights {error:E2}");
        double stepOneError = GradientCheck.RelativeError(algorithm, theta, episode, coordinates: 12, seed: 4, candidates: stepOne);
        Assert.True(stepOneError < 1e-4, $"relative error on step 1's BN weights {stepOneError:E2}");
        double rateError = GradientCheck.RelativeError(algorithm, theta, episode, coordinates: 16, seed: 6,
            candidates: CoordinatesOf(theta.Layout, name => name.StartsWith("lr.")));
        Assert.True(rateError < 1e-4, $"relative error on the rates {rateError:E2}");
    }

    [Fact]
    public void MultiStepLossGradientIsTheWeightedSumOfThePerStepMetaGradients()
    {
        var model = new Mlp(1, 8, 8, 1);
        var plus = new MamlPlusPlusOptions { MultiStepLoss = true, MultiStepLossIterations = 100 };
        var algorithm = new MamlPlusPlus(model, ThreeSteps, plus);
        var theta = algorithm.Initialize(3);
        var values = theta.Values.Select(v => (double)v).ToArray();
        using var episode = TestEpisodes.Sinusoid().To(ScalarType.Float64);
        const long round = 40;
        double[] weights = MamlPlusPlusOptions.StepWeights(3, round, 100);
        // f = 0.4: the first two steps 1/3 − 0.4/3 = 0.2, the last 1/3 + 0.4·2/3 = 0.6.
        Assert.Equal([0.2, 0.2, 0.6], weights.Select(w => Math.Round(w, 12)));

        using var scope = NewDisposeScope();
        var outcome = algorithm.ComputeAt(GradientCheck.ToTensors(values, theta.Layout), episode, round);
        var multiStep = cat(outcome.Contribution.Select(t => t.reshape(-1)).ToArray(), 0).data<double>().ToArray();
        // Step s's meta-gradient is plain MAML's with s inner steps.
        var expected = new double[values.Length];
        for (int s = 1; s <= 3; s++)
        {
            var perStep = GradientCheck.Analytic(new Maml(model, ThreeSteps with { InnerSteps = s }), values, theta.Layout, episode);
            for (int i = 0; i < expected.Length; i++) expected[i] += weights[s - 1] * perStep[i];
        }
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], multiStep[i], 1e-12);
        // After the annealing only the last step counts: plain 3-step MAML.
        var late = algorithm.ComputeAt(GradientCheck.ToTensors(values, theta.Layout), episode, 100).Contribution;
        var lastOnly = GradientCheck.Analytic(new Maml(model, ThreeSteps), values, theta.Layout, episode);
        var lateFlat = cat(late.Select(t => t.reshape(-1)).ToArray(), 0).data<double>().ToArray();
        for (int i = 0; i < lastOnly.Length; i++) Assert.Equal(lastOnly[i], lateFlat[i], 1e-12);
    }

    [Fact]
    public void MultiStepLossWeightsFollowTheReferenceSchedule()
    {
        static double[] Rounded(double[] w) => w.Select(x => Math.Round(x, 12)).ToArray();
        // 5 steps over 7,500 rounds (15 epochs of 500): uniform at first.
        Assert.Equal([0.2, 0.2, 0.2, 0.2, 0.2], Rounded(MamlPlusPlusOptions.StepWeights(5, 0, 7500)));
        // Epoch 3 of 15 (round 1,500): the reference's 0.2 − 3/75 = 0.16 and 0.2 + 3·4/75 = 0.36.
        Assert.Equal([0.16, 0.16, 0.16, 0.16, 0.36], Rounded(MamlPlusPlusOptions.StepWeights(5, 1500, 7500)));
        // Halfway: 0.1 each, the last 0.6; between epochs the line is followed, not a staircase.
        Assert.Equal([0.1, 0.1, 0.1, 0.1, 0.6], Rounded(MamlPlusPlusOptions.StepWeights(5, 3750, 7500)));
        Assert.Equal([0.14, 0.14, 0.14, 0.14, 0.44], Rounded(MamlPlusPlusOptions.StepWeights(5, 2250, 7500)));
        // Near the end the floor 0.03/5 = 0.006 holds the others and caps the last at 1 − 4·0.006 = 0.976.
        Assert.Equal([0.006, 0.006, 0.006, 0.006, 0.976], Rounded(MamlPlusPlusOptions.StepWeights(5, 7499, 7500)));
        // From the end of the annealing on, the last step alone.
        Assert.Equal([0.0, 0.0, 0.0, 0.0, 1.0], MamlPlusPlusOptions.StepWeights(5, 7500, 7500));
        Assert.Equal([1.0], MamlPlusPlusOptions.StepWeights(1, 0, 7500));
    }

    [Fact]
    public void CosineOuterLearningRateIsAPureFunctionOfTheRound()
    {
        var config = new TrainingConfig { OuterLr = 0.001, OuterLrMin = 1e-5, Iterations = 100, CosineOuterLr = true };
        Assert.Equal(0.001, config.OuterLearningRate(0), 15);
        // min + (max − min)(1 + cos(π/4))/2 = 1e-5 + 0.00099 · 0.8535533905932737
        Assert.Equal(0.000855017856687341, config.OuterLearningRate(25), 15);
        Assert.Equal(0.000505, config.OuterLearningRate(50), 15);
        Assert.Equal(1e-5, config.OuterLearningRate(100), 15);
        Assert.Equal(1e-5, config.OuterLearningRate(150), 15);
        Assert.Equal(0.001, (config with { CosineOuterLr = false }).OuterLearningRate(50));
    }

    [Fact]
    public void DerivativeOrderAnnealingIsFirstOrderBeforeTheSwitchAndMamlAfter()
    {
        var plus = new MamlPlusPlusOptions { FirstOrderIterations = 5, MetaBatch = 4 };
        Assert.False(plus.SecondOrderAt(4, firstOrder: false));
        Assert.True(plus.SecondOrderAt(5, firstOrder: false));
        Assert.False(plus.SecondOrderAt(500, firstOrder: true));

        // With nothing else on, the rounds before the switch are FOMAML's bits and those after MAML's (float64).
        var model = new Mlp(1, 8, 8, 1);
        var algorithm = new MamlPlusPlus(model, ThreeSteps, plus);
        var theta = algorithm.Initialize(3);
        Assert.True(theta.Layout.SameAs(model.Layout));
        var values = theta.Values.Select(v => (double)v).ToArray();
        using var early = TestEpisodes.Sinusoid(index: 19).To(ScalarType.Float64); // round 19 / 4 = 4
        using var late = TestEpisodes.Sinusoid(index: 20).To(ScalarType.Float64);  // round 5
        Assert.Equal(4, algorithm.RoundOf(early));
        void AssertClose(double[] a, double[] b) { for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-12); }
        AssertClose(GradientCheck.Analytic(new Maml(model, ThreeSteps with { FirstOrder = true }), values, theta.Layout, early),
            GradientCheck.Analytic(algorithm, values, theta.Layout, early));
        AssertClose(GradientCheck.Analytic(new Maml(model, ThreeSteps), values, theta.Layout, late),
            GradientCheck.Analytic(algorithm, values, theta.Layout, late));
    }

    [Fact]
    public void LearnsToClassifyNewRandomClusterTasks()
    {
        var (before, after) = Curve(iterations: 60, outerLr: 0.01, innerLr: 0.1);
        output.WriteLine($"maml++ 3-way 2-shot random clusters, 60 rounds: {before:P1} → {after:P1}");
        // Chance is 1/3: labels mean nothing across tasks, so only a learned initialisation and learned rates beat 3 plain steps.
        Assert.True(after > 0.85 && after > before + 0.3, $"query accuracy after 3 inner steps: untrained {before:P1}, trained {after:P1}");
    }

    private static (double Before, double After) Curve(int iterations, double outerLr, double innerLr)
    {
        var source = new RandomClusterSource(4, noise: 0.1);
        var spec = new EpisodeSpec(3, 2, 5);
        var model = new Mlp(4, 16, 3);
        // Every option but per-step batch norm (an MLP has none), each schedule passing its switch within the run.
        var config = TrainingConfig.ForDataset("folder", "maml").WithMamlPlusPlus() with
        {
            PerStepBn = false, Ways = 3, Shots = 2, Queries = 5, MetaBatch = 4, Iterations = iterations, Seed = 5,
            InnerSteps = 3, EvalSteps = 3, InnerLr = innerLr, OuterLr = outerLr, MslIterations = iterations / 2, DerivativeOrderAnnealing = iterations / 4,
        };
        var run = new TrainingRun(config, model, TrainingRun.CreateAlgorithm(config, model), spec, source, null, source);
        var tasks = run.EvaluationStream(seed: 99);
        double Accuracy(ParameterSet theta) => Evaluator.Evaluate(run.Algorithm, theta, tasks, 60, steps: 3, BatchNormMode.Transductive).Accuracy!.Mean;
        var trainer = new MetaTrainer(run);
        double before = Accuracy(trainer.Theta);
        while (!trainer.Finished) trainer.RunRound();
        return (before, Accuracy(trainer.Theta));
    }

    [Fact]
    public void ResumingAMamlPlusPlusRunFromACheckpointGivesTheUninterruptedRunsBits()
    {
        var config = TrainingConfig.ForDataset("sinusoid", "maml").WithMamlPlusPlus() with
        {
            Iterations = 6, MetaBatch = 3, InnerSteps = 2, EvalSteps = 2, Hidden = [8, 8], MslIterations = 4, DerivativeOrderAnnealing = 2, Seed = 4,
        };
        var straight = new MetaTrainer(RunFactory.Create(config));
        while (!straight.Finished) straight.RunRound();

        var first = new MetaTrainer(RunFactory.Create(config));
        for (int i = 0; i < 3; i++) first.RunRound();
        string path = Path.Combine(Path.GetTempPath(), $"mc-{Guid.NewGuid():N}", Checkpoint.FileName);
        try
        {
            first.ToCheckpoint().Save(path);
            var checkpoint = Checkpoint.Load(path);
            Assert.True(checkpoint.Config.MultiStepLoss && checkpoint.Config.LearnedInnerLr && checkpoint.Config.CosineOuterLr);
            var resumed = new MetaTrainer(RunFactory.Create(checkpoint.Config), checkpoint);
            while (!resumed.Finished) resumed.RunRound();
            Assert.Equal(straight.Theta.Values, resumed.Theta.Values);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void OptionsOutsideMamlOrWithoutBatchNormAreRefusedWithTheFix()
    {
        var reptile = TrainingConfig.ForDataset("sinusoid", "reptile") with { MultiStepLoss = true };
        Assert.Contains("options of maml and fomaml, not reptile", Assert.Throws<ArgumentException>(reptile.Validate).Message);
        var sinusoid = TrainingConfig.ForDataset("sinusoid", "maml") with { PerStepBn = true };
        Assert.Contains("use it with omniglot or folder", Assert.Throws<ArgumentException>(sinusoid.Validate).Message);
        var fomaml = TrainingConfig.ForDataset("sinusoid", "fomaml") with { DerivativeOrderAnnealing = 10 };
        Assert.Contains("first order throughout", Assert.Throws<ArgumentException>(fomaml.Validate).Message);
        var both = TrainingConfig.ForDataset("sinusoid", "maml") with { CosineOuterLr = true, OuterLrFinal = 0 };
        Assert.Contains("give one", Assert.Throws<ArgumentException>(both.Validate).Message);
        // The preset: the reference's Omniglot 5-way 1-shot settings.
        var preset = TrainingConfig.ForDataset("omniglot", "maml").WithMamlPlusPlus();
        Assert.Equal((5, 5, 16, 1, 75_000, 40_500, 7_500, 0.4), (preset.InnerSteps, preset.EvalSteps, preset.MetaBatch, preset.Queries,
            preset.Iterations, preset.DerivativeOrderAnnealing, preset.MslIterations, preset.InnerLr));
        Assert.True(preset.PerStepBn && preset.LearnedInnerLr && preset.MultiStepLoss && preset.CosineOuterLr);
    }
}
