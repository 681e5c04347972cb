using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Method 6 of issue 12: the functional LSTM cell, <c>--model lstm</c> and the sine-sequence task family.</summary>
public class LstmSequenceModelTests
{
    [Fact]
    public void LstmCellGradientsMatchFiniteDifferencesInFloat64()
    {
        using var scope = NewDisposeScope();
        var rng = new DeterministicRandom(4);
        Tensor Random(params long[] shape)
        {
            var values = new double[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++) values[i] = rng.NextDouble(-1, 1);
            return tensor(values, shape, dtype: ScalarType.Float64).requires_grad_();
        }
        Tensor[] inputs = [Random(3, 2), Random(3, 4), Random(3, 4), Random(16, 2), Random(16, 4), Random(16)];
        var probeH = Random(3, 4).detach();
        var probeC = Random(3, 4).detach();
        double Objective(Tensor[] t)
        {
            using var _ = no_grad();
            var (h, c) = LstmCell.Step(t[0], t[1], t[2], t[3], t[4], t[5]);
            return ((h * probeH).sum() + (c * probeC).sum()).item<double>();
        }
        var (h, c) = LstmCell.Step(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5]);
        var analytic = autograd.grad([(h * probeH).sum() + (c * probeC).sum()], inputs).ToArray();
        FiniteDifferences.AssertMatches(inputs, analytic, Objective, tolerance: 1e-7);
    }

    [Fact]
    public void LstmCellWithZeroWeightsHalvesTheCellAndSquashesIt()
    {
        // Every gate is σ(0) = ½ and the candidate tanh(0) = 0: c' = ½c, h' = ½·tanh(c').
        using var scope = NewDisposeScope();
        var c = tensor(new double[] { 0.8, -2.0 }, [1, 2], dtype: ScalarType.Float64);
        var (hNext, cNext) = LstmCell.Step(ones(1, 3, dtype: ScalarType.Float64), zeros(1, 2, dtype: ScalarType.Float64), c,
            zeros(8, 3, dtype: ScalarType.Float64), zeros(8, 2, dtype: ScalarType.Float64), zeros(8, dtype: ScalarType.Float64));
        Assert.Equal(new[] { 0.4, -1.0 }, cNext.data<double>().ToArray());
        Assert.Equal(0.5 * Math.Tanh(0.4), hNext.data<double>()[0], 15);
        Assert.Equal(0.5 * Math.Tanh(-1.0), hNext.data<double>()[1], 15);
    }

    [Fact]
    public void SecondOrderMamlThroughTheLstmMatchesFiniteDifferences()
    {
        var model = new LstmSequenceModel(1, 4, 1);
        var maml = new Maml(model, new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.05 });
        using var episode = new SineSequenceSource().Sample(new EpisodeSpec(1, 4, 3), 0, 11);
        double error = GradientCheck.RelativeError(maml, maml.Initialize(2), episode, coordinates: 25, seed: 5);
        Assert.True(error < 1e-5, $"relative error {error:E2}");
    }

    [Fact]
    public void SineSequenceQueriesContinueTheSupportPrefix()
    {
        using var episode = new SineSequenceSource().Sample(new EpisodeSpec(1, 5, 4), 3, 99);
        int w = SineSequenceSource.Window;
        Assert.Equal(new long[] { 5, w, 1 }, episode.SupportX.shape);
        Assert.Equal(new long[] { 4, 1 }, episode.QueryY.shape);
        var sx = episode.SupportX.data<float>().ToArray();
        var sy = episode.SupportY.data<float>().ToArray();
        var qx = episode.QueryX.data<float>().ToArray();
        var qy = episode.QueryY.data<float>().ToArray();
        // One series: each window is the previous one shifted by a step, its last value the previous target.
        var series = sx[..w].Concat(sy).Concat(qy).ToArray();
        for (int k = 0; k < 5; k++) Assert.Equal(series[k..(k + w)], sx[(k * w)..((k + 1) * w)]);
        for (int k = 0; k < 4; k++) Assert.Equal(series[(5 + k)..(5 + k + w)], qx[(k * w)..((k + 1) * w)]);
        // The query targets are all past the prefix the support set covers.
        Assert.Equal(5 + w, series.Length - 4);
        // And it is a sinusoid sampled at equal steps: v[k+1] + v[k−1] = 2cos(ωΔt)·v[k] for one ω.
        double ratio = (series[2] + series[0]) / series[1];
        for (int k = 2; k < series.Length - 1; k++) Assert.Equal(ratio * series[k], series[k + 1] + series[k - 1], 3);
    }

    [Fact]
    public void ModelLstmIsOnlyForSequencesAndSineSequenceIsRegression()
    {
        var ok = TrainingConfig.ForDataset("sine-sequence", "maml");
        Assert.Equal("lstm", ok.Model);
        Assert.False(ok.IsClassification);
        Assert.IsType<LstmSequenceModel>(RunFactory.CreateBlueprint(ok).Model);
        var wrong = Assert.Throws<ArgumentException>(() => (TrainingConfig.ForDataset("sinusoid", "maml") with { Model = "lstm" }).Validate());
        Assert.Contains("sine-sequence", wrong.Message);
        Assert.Throws<ArgumentException>(() => (ok with { Model = "gru" }).Validate());
    }

    [Fact]
    public void FomamlMetaTrainsTheLstmToForecastAfterOneStep()
    {
        var config = TrainingConfig.ForDataset("sine-sequence", "fomaml") with
        {
            Iterations = 150, MetaBatch = 5, Shots = 5, Queries = 5, Hidden = [12], InnerLr = 0.02, OuterLr = 0.01, Seed = 3,
        };
        var run = RunFactory.Create(config);
        var tasks = run.EvaluationStream(seed: 777);
        var untrained = Evaluator.Evaluate(run.Algorithm, run.InitialParameters(), tasks, 30, steps: 1, BatchNormMode.Transductive);
        var trainer = new MetaTrainer(run);
        while (!trainer.Finished) trainer.RunRound();
        var trained = Evaluator.Evaluate(run.Algorithm, trainer.Theta, tasks, 30, steps: 1, BatchNormMode.Transductive);
        // Predicting zero costs E[A²]/2 ≈ 4.2; the untrained LSTM about as much.
        Assert.True(trained.Loss!.Mean < 0.25 * untrained.Loss!.Mean,
            $"query MSE after one step: untrained {untrained.Loss!.Mean:F3}, trained {trained.Loss!.Mean:F3}");
    }
}
