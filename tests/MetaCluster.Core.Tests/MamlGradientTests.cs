using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

public class MamlGradientTests
{
    private static readonly AlgorithmOptions TwoSteps = new() { InnerSteps = 2, InnerLearningRate = 0.05 };

    [Fact]
    public void SecondOrderMetaGradientMatchesFiniteDifferences()
    {
        var model = new Mlp(1, 8, 8, 1);
        var maml = new Maml(model, TwoSteps);
        using var episode = TestEpisodes.Sinusoid();
        double error = GradientCheck.RelativeError(maml, maml.Initialize(3), episode, coordinates: 60, seed: 1);
        Assert.True(error < 1e-4, $"relative error {error:E2}");
    }

    [Fact]
    public void SecondOrderThroughConv4WithBatchNormMatchesFiniteDifferences()
    {
        var model = new Conv4(classes: 3, filters: 3, imageSize: 16);
        var maml = new Maml(model, new AlgorithmOptions { InnerSteps = 1, InnerLearningRate = 0.1 });
        using var episode = TestEpisodes.Images(ways: 3, shots: 2, queries: 2, size: 16, seed: 5);
        double error = GradientCheck.RelativeError(maml, maml.Initialize(4), episode, coordinates: 40, seed: 2);
        Assert.True(error < 1e-4, $"relative error {error:E2}");
    }

    [Fact]
    public void SecondOrderThroughStridedConv4MatchesFiniteDifferences()
    {
        var model = new Conv4(classes: 3, filters: 3, imageSize: 16, downsampling: Downsampling.StridedConv);
        var maml = new Maml(model, new AlgorithmOptions { InnerSteps = 1, InnerLearningRate = 0.1 });
        using var episode = TestEpisodes.Images(ways: 3, shots: 2, queries: 2, size: 16, seed: 5);
        double error = GradientCheck.RelativeError(maml, maml.Initialize(4), episode, coordinates: 40, seed: 2);
        Assert.True(error < 1e-4, $"relative error {error:E2}");
    }

    [Fact]
    public void FirstOrderDropsTheSecondOrderTermsAndEqualsTheGradientAtTheAdaptedWeights()
    {
        var model = new Mlp(1, 8, 8, 1);
        var theta = model.Initialize(3);
        using var episode = TestEpisodes.Sinusoid().To(ScalarType.Float64);
        var values = theta.Values.Select(v => (double)v).ToArray();
        var second = GradientCheck.Analytic(new Maml(model, TwoSteps), values, theta.Layout, episode);
        var fomaml = new Maml(model, TwoSteps with { FirstOrder = true });
        var first = GradientCheck.Analytic(fomaml, values, theta.Layout, episode);

        // FOMAML's contribution is ∂L_query/∂θ' evaluated at the adapted weights θ'.
        using var scope = NewDisposeScope();
        var adapted = fomaml.Adapt(GradientCheck.ToTensors(values, theta.Layout), episode, TwoSteps.InnerSteps)
            .Select(t => t.detach().requires_grad_()).ToArray();
        var loss = TaskLoss.Loss(model.Forward(episode.QueryX, adapted), episode.QueryY, episode.Kind);
        var atAdapted = cat(autograd.grad([loss], adapted).Select(g => g.reshape(-1)).ToArray(), 0).data<double>().ToArray();

        Assert.Equal(atAdapted.Length, first.Length);
        for (int i = 0; i < first.Length; i++) Assert.Equal(atAdapted[i], first[i], 1e-12);
        double difference = Math.Sqrt(first.Zip(second, (a, b) => (a - b) * (a - b)).Sum() / second.Sum(b => b * b));
        Assert.True(difference > 1e-3, $"first and second order differ by only {difference:E2}");
    }

    [Fact]
    public void MetaSgdGradientWithRespectToWeightsAndLearningRatesMatchesFiniteDifferences()
    {
        var model = new Mlp(1, 8, 8, 1);
        var metaSgd = new MetaSgd(model, TwoSteps);
        var theta = metaSgd.Initialize(3);
        // Perturb the rates so each parameter has its own, as after meta-training.
        var rng = new Episodes.DeterministicRandom(9);
        for (int i = model.Layout.TotalCount; i < theta.Values.Length; i++) theta.Values[i] *= (float)rng.NextDouble(0.5, 1.5);
        using var episode = TestEpisodes.Sinusoid();
        Assert.True(GradientCheck.RelativeError(metaSgd, theta, episode, coordinates: 80, seed: 3) < 1e-4);

        // The rates alone: every sampled coordinate from the α half of the vector.
        double rateError = RateOnlyError(metaSgd, theta, episode, model.Layout.TotalCount);
        Assert.True(rateError < 1e-4, $"relative error on the learning rates {rateError:E2}");
    }

    private static double RateOnlyError(MetaSgd metaSgd, ParameterSet theta, Episodes.Episode episode, int firstRate)
    {
        using var episode64 = episode.To(ScalarType.Float64);
        var values = theta.Values.Select(v => (double)v).ToArray();
        var analytic = GradientCheck.Analytic(metaSgd, values, theta.Layout, episode64);
        double diff = 0, norm = 0;
        for (int i = firstRate; i < values.Length; i += 3)
        {
            double original = values[i];
            values[i] = original + 1e-6;
            double plus = GradientCheck.Objective(metaSgd, values, theta.Layout, episode64);
            values[i] = original - 1e-6;
            double minus = GradientCheck.Objective(metaSgd, values, theta.Layout, episode64);
            values[i] = original;
            double numeric = (plus - minus) / 2e-6;
            diff += (analytic[i] - numeric) * (analytic[i] - numeric);
            norm += numeric * numeric;
        }
        Assert.True(norm > 1e-12);
        return Math.Sqrt(diff / norm);
    }

    [Fact]
    public void AnilGradientMatchesFiniteDifferencesAndItsInnerLoopLeavesTheBodyUntouched()
    {
        var model = new Mlp(1, 8, 8, 1);
        var anil = new Anil(model, TwoSteps);
        var theta = anil.Initialize(3);
        using var episode = TestEpisodes.Sinusoid();
        Assert.True(GradientCheck.RelativeError(anil, theta, episode, coordinates: 60, seed: 4) < 1e-4);

        using var scope = NewDisposeScope();
        var leaves = theta.ToTensors(requiresGrad: true);
        var adapted = anil.InnerLoop(leaves, episode, steps: 3, createGraph: false);
        for (int i = 0; i < model.HeadStart; i++) Assert.Same(leaves[i], adapted[i]);
        for (int i = model.HeadStart; i < leaves.Length; i++)
            Assert.False(leaves[i].detach().allclose(adapted[i].detach()), $"head parameter {i} was not adapted");
    }

    [Fact]
    public void ProtoNetGradientMatchesFiniteDifferences()
    {
        var model = new Mlp(2, 16, 16, 3);
        var proto = new ProtoNet(model, new AlgorithmOptions());
        using var episode = TestEpisodes.Clusters(ways: 3, shots: 2, queries: 3, spread: 3, seed: 11, radius: 2);
        Assert.True(GradientCheck.RelativeError(proto, proto.Initialize(5), episode, coordinates: 60, seed: 5) < 1e-4);
    }
}
