using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Method 4 of issue 12: Ravi &amp; Larochelle's LSTM meta-learner.</summary>
public class LstmMetaLearnerTests
{
    [Fact]
    public void TheMetaLearnersUpdateGradientsMatchFiniteDifferencesInFloat64()
    {
        using var scope = NewDisposeScope();
        var rng = new DeterministicRandom(21);
        Tensor Random(params long[] shape)
        {
            var values = new double[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++) values[i] = rng.NextDouble(-1, 1);
            return tensor(values, shape, dtype: ScalarType.Float64).requires_grad_();
        }
        const int p = 6, h = 3;
        // flat θ, ∇, h, f_{t−1}, i_{t−1}, then W_F, b_F, W_I, b_I (meta[3..6]; meta[0..2] are the LSTM's, unused here).
        Tensor[] inputs = [Random(p), Random(p), Random(p, h), Random(p, 1), Random(p, 1), Random(1, h + 2), Random(1), Random(1, h + 2), Random(1)];
        var probes = new[] { Random(p), Random(p, 1), Random(p, 1) }.Select(t => t.detach()).ToArray();
        Tensor Objective(Tensor[] t)
        {
            Tensor[] meta = [t[0], t[0], t[0], t[5], t[6], t[7], t[8]];
            var (next, forget, input) = LstmMetaLearner.Update(t[0], t[1], t[2], t[3], t[4], meta);
            return (next * probes[0]).sum() + (forget * probes[1]).sum() + (input * probes[2]).sum();
        }
        var analytic = autograd.grad([Objective(inputs)], inputs).ToArray();
        FiniteDifferences.AssertMatches(inputs, analytic, t => { using var _ = no_grad(); return Objective(t).item<double>(); }, tolerance: 1e-7);
    }

    [Fact]
    public void PreprocessingIsLogMagnitudeAndSignAboveTheThresholdAndScaledBelow()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 0.5, -3.0, 1e-6, -2e-5 }, [4, 1]);
        // e^−10 ≈ 4.5e−5: the last two are below the threshold.
        var expected = new[] { Math.Log(0.5) / 10, 1, Math.Log(3.0) / 10, -1, -1, 1e-6 * Math.Exp(10), -1, -2e-5 * Math.Exp(10) };
        var actual = LstmMetaLearner.Preprocess(x).data<double>().ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 12);
    }

    [Fact]
    public void SecondOrderMetaGradientThroughThreeUpdatesMatchesFiniteDifferences()
    {
        var learner = new Mlp(1, 6, 1);
        var meta = new LstmMetaLearner(learner, new AlgorithmOptions { InnerSteps = 3 }, hiddenSize: 4);
        var theta = meta.Initialize(6);
        // Larger rates than the paper's start, so three updates move the learner visibly.
        var biasI = meta.Layout.Parameters.Single(p => p.Name == "meta.input.bias");
        theta.Values[biasI.Offset] = -1.5f;
        using var episode = TestEpisodes.Sinusoid(shots: 5, queries: 5);
        double error = GradientCheck.RelativeError(meta, theta, episode, coordinates: 50, seed: 8);
        Assert.True(error < 1e-5, $"relative error {error:E2}");
    }

    [Fact]
    public void FirstOrderAgreesWithSecondOrderOnTheMetaWeightsAfterOneUpdateButNotOnTheLearnerInit()
    {
        // After one update ∇₀ depends on the learner's init c₀ alone, so dropping its derivative changes only c₀'s part.
        var learner = new Mlp(1, 6, 1);
        var options = new AlgorithmOptions { InnerSteps = 1 };
        var second = new LstmMetaLearner(learner, options, hiddenSize: 4);
        var first = new LstmMetaLearner(learner, options with { FirstOrder = true }, hiddenSize: 4);
        var theta = second.Initialize(2);
        theta.Values[second.Layout.Parameters.Single(p => p.Name == "meta.input.bias").Offset] = -1f;
        using var episode = TestEpisodes.Sinusoid().To(ScalarType.Float64);
        var values = theta.Values.Select(v => (double)v).ToArray();
        var a = GradientCheck.Analytic(second, values, theta.Layout, episode);
        var b = GradientCheck.Analytic(first, values, theta.Layout, episode);
        int learnerCount = learner.Layout.TotalCount;
        for (int i = learnerCount; i < a.Length; i++) Assert.Equal(a[i], b[i], 12);
        double difference = Enumerable.Range(0, learnerCount).Sum(i => Math.Abs(a[i] - b[i]));
        Assert.True(difference > 1e-4, $"first and second order agree on c₀ too ({difference:E2})");
    }

    [Fact]
    public void MetaTrainingLearnsAnUpdateRuleThatClassifiesNewTasks()
    {
        var source = new RandomClusterSource(4, noise: 0.1);
        var spec = new EpisodeSpec(3, 2, 5);
        var learner = new Mlp(4, 16, 3);
        var meta = new LstmMetaLearner(learner, new AlgorithmOptions { InnerSteps = 5, FirstOrder = true }, hiddenSize: 8);
        var config = new TrainingConfig { Dataset = "folder", Algorithm = "lstm-meta", Ways = 3, Shots = 2, Queries = 5, MetaBatch = 4, Iterations = 250, OuterLr = 0.01, Seed = 5 };
        var run = new TrainingRun(config, learner, meta, spec, source, null, source);
        var tasks = run.EvaluationStream(seed: 99);
        var untrained = Evaluator.Evaluate(meta, run.InitialParameters(), tasks, 60, steps: 5, BatchNormMode.Transductive);
        var trainer = new MetaTrainer(run);
        while (!trainer.Finished) trainer.RunRound();
        var trained = Evaluator.Evaluate(meta, trainer.Theta, tasks, 60, steps: 5, BatchNormMode.Transductive);
        // Chance is 1/3: the labels mean nothing across tasks, so only the learned updates can classify.
        Assert.True(trained.Accuracy!.Mean > 0.7 && trained.Accuracy!.Mean > untrained.Accuracy!.Mean + 0.2,
            $"query accuracy after 5 learned updates: untrained {untrained.Accuracy!.Mean:P1}, trained {trained.Accuracy!.Mean:P1}");
    }
}
