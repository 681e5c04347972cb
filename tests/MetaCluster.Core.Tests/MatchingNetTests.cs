using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

public class MatchingNetTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientMatchesFiniteDifferences(bool fce)
    {
        var net = new MatchingNet(new Mlp(2, 8, 8, 3), new AlgorithmOptions(), fce);
        using var episode = TestEpisodes.Clusters(ways: 3, shots: 2, queries: 3, spread: 3, seed: 11, radius: 2);
        Assert.True(GradientCheck.RelativeError(net, net.Initialize(5), episode, coordinates: 80, seed: 5) < 1e-4);
    }

    [Fact]
    public void LearnsOnGeneratedClasses()
    {
        var config = TrainingConfig.ForDataset("folder", "matchingnet") with { Ways = 5, Shots = 1, Queries = 5, MetaBatch = 2, Iterations = 150, Seed = 1, OuterLr = 0.01 };
        var (before, after) = GeneratedClasses.LearningCurve(config, GeneratedClasses.Data(40, 20), evalSteps: 0);
        output.WriteLine($"matchingnet 5-way 1-shot: {before:F3} → {after:F3}");
        Assert.True(after > 0.5 && after > before + 0.2, $"{before:F3} → {after:F3}");
    }
}
