using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

public class MetaNetTests(ITestOutputHelper output)
{
    [Fact]
    public void GradientMatchesFiniteDifferencesThroughTheWeightGenerator()
    {
        var net = new MetaNet(new Mlp(2, 8, 8, 3), new AlgorithmOptions());
        // W₂ and b₂ start at zero, which would leave W₁'s gradient zero: check at a perturbed θ, where every piece of
        // the generator carries gradient.
        var theta = net.Initialize(5).Clone();
        var rng = new Episodes.DeterministicRandom(9);
        for (int i = 0; i < theta.Values.Length; i++) theta.Values[i] += (float)rng.NextDouble(-0.3, 0.3);
        using var episode = TestEpisodes.Clusters(ways: 3, shots: 2, queries: 3, spread: 3, seed: 11, radius: 2);
        Assert.True(GradientCheck.RelativeError(net, theta, episode, coordinates: 80, seed: 6) < 1e-4);
        // Every generator parameter gets a gradient (the check above samples coordinates).
        using var scope = NewDisposeScope();
        var contribution = net.Compute(theta.ToTensors(requiresGrad: true), episode).Contribution;
        for (int i = net.Model.HeadStart; i < net.Layout.Count; i++)
            Assert.True(contribution[i].abs().max().item<float>() > 0, $"{net.Layout[i].Name} has no gradient");
    }

    [Fact]
    public void StartsAsACosinePrototypeClassifier()
    {
        // φ = 1, W₂ = b₂ = 0: the generated weights are the unit class means, so logits are τ·cos(query, mean).
        var model = new Mlp(2, 8, 8, 3);
        var net = new MetaNet(model, new AlgorithmOptions());
        using var episode = TestEpisodes.Clusters(ways: 3, shots: 2, queries: 3, spread: 3, seed: 11, radius: 2);
        using var scope = NewDisposeScope();
        var theta = net.Initialize(3).ToTensors();
        var logits = net.Logits(theta, episode, BatchNormMode.Transductive);
        var support = model.Embed(episode.SupportX, theta.Take(model.HeadStart).ToArray());
        var query = model.Embed(episode.QueryX, theta.Take(model.HeadStart).ToArray());
        var expected = new float[9];
        var s = support.data<float>().ToArray();
        var q = query.data<float>().ToArray();
        int d = (int)support.shape[1];
        double[] Unit(IEnumerable<double> v) { var a = v.ToArray(); double n = Math.Sqrt(a.Sum(x => x * x)); return a.Select(x => x / n).ToArray(); }
        for (int c = 0; c < 3; c++)
        {
            var a = Unit(Enumerable.Range(0, d).Select(j => (double)s[(2 * c) * d + j]));
            var b = Unit(Enumerable.Range(0, d).Select(j => (double)s[(2 * c + 1) * d + j]));
            var mean = Unit(a.Zip(b, (x, y) => (x + y) / 2));
            for (int i = 0; i < 3; i++)
            {
                var u = Unit(Enumerable.Range(0, d).Select(j => (double)q[i * d + j]));
                Assert.Equal(MetaNet.InitialScale * u.Zip(mean, (x, y) => x * y).Sum(), logits[i, c].item<float>(), 4);
            }
        }
    }

    [Fact]
    public void LearnsOnGeneratedClasses()
    {
        var config = TrainingConfig.ForDataset("folder", "metanet") with { Ways = 5, Shots = 1, Queries = 5, MetaBatch = 2, Iterations = 150, Seed = 1, OuterLr = 0.01 };
        var (before, after) = GeneratedClasses.LearningCurve(config, GeneratedClasses.Data(40, 20), evalSteps: 0);
        output.WriteLine($"metanet 5-way 1-shot: {before:F3} → {after:F3}");
        Assert.True(after > 0.5 && after > before + 0.2, $"{before:F3} → {after:F3}");
    }
}
