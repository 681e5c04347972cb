using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Client updates checked against hand computation, the centralised algorithms and finite differences.</summary>
public sealed class FederatedAlgorithmTests
{
    private static Episode Line(long index, float[] xs, float[] ys, int shots)
    {
        int n = xs.Length;
        return new Episode(index, TaskKind.Regression, 1,
            tensor(xs[..shots], [shots, 1]), tensor(ys[..shots], [shots, 1]),
            tensor(xs[shots..], [n - shots, 1]), tensor(ys[shots..], [n - shots, 1]));
    }

    [Fact]
    public void FedAvgUpdate_IsKHandCheckedSgdStepsPerEpisodeInTurn()
    {
        // A 1-1 MLP is y = w·x + b: the MSE gradient over all n examples is (2/n)·Σ r·x and (2/n)·Σ r, r = w·x + b − y.
        var config = FederatedConfig.ForAlgorithm("sinusoid", "fedavg") with { Hidden = [], LocalSteps = 3, LocalLr = 0.1, LocalEpisodes = 2 };
        var algorithm = (LocalSgdUpdate)FederatedAlgorithm.Create(config);
        var theta = new ParameterSet(algorithm.Layout, [0.5f, -0.25f]);
        float[][] xs = [[-1f, 0.5f, 2f, 1f, -0.5f], [0.3f, -2f, 1.5f, 0.7f, -1.2f]];
        float[][] ys = [[1f, 2f, -1f, 0.5f, 0f], [-0.4f, 1.1f, 0.9f, -2f, 0.2f]];

        var result = algorithm.Compute(theta, [0, 1], e => Line(e, xs[e], ys[e], shots: 3));

        double w = 0.5, b = -0.25;
        for (int e = 0; e < 2; e++)
            for (int step = 0; step < 3; step++)
            {
                double gw = 0, gb = 0;
                for (int i = 0; i < 5; i++)
                {
                    double r = w * xs[e][i] + b - ys[e][i];
                    gw += 2.0 / 5 * r * xs[e][i];
                    gb += 2.0 / 5 * r;
                }
                (w, b) = (w - 0.1 * gw, b - 0.1 * gb);
            }
        Assert.Equal(w - 0.5, result.Update[0], 5);
        Assert.Equal(b + 0.25, result.Update[1], 5);
        Assert.Equal(2, result.Metrics.Episodes);
        Assert.True(result.Metrics.PostLoss < result.Metrics.PreLoss!.Value);
    }

    [Fact]
    public void FedMetaMamlUpdate_IsTheExactMeanOfMamlContributions()
    {
        var config = FederatedConfig.ForAlgorithm("sinusoid", "fedmeta-maml") with { LocalEpisodes = 3, Seed = 3 };
        var algorithm = FederatedAlgorithm.Create(config);
        var maml = Assert.IsType<Maml>(algorithm.Personalizer);
        Assert.False(maml.Options.FirstOrder);
        var theta = algorithm.InitialParameters();
        var client = new FederatedClientTrainer(algorithm, Federations.Sinusoid(10, 0, 1).Client("sine-004"));
        var update = client.Compute(theta, round: 7);

        long[] episodes = [0, 1, 2];
        var contributions = maml.Contribute(theta, episodes, e => client.SampleEpisode(7, e));
        var sum = new ExactSum(theta.Layout.TotalCount);
        foreach (var c in contributions) sum.Add(c.Values);
        Assert.Equal(sum.Mean(), update.Values);

        // …and each contribution is MAML's own per-episode meta-gradient (computed alone, without task batching).
        using var scope = NewDisposeScope();
        var leaves = theta.ToTensors(requiresGrad: true);
        var alone = episodes.Select(e =>
        {
            using var episode = client.SampleEpisode(7, e);
            return ParameterSet.Flatten(theta.Layout, maml.Compute(leaves, episode).Contribution);
        }).ToArray();
        for (int i = 0; i < update.Values.Length; i++)
            Assert.Equal(alone.Average(a => (double)a[i]), update.Values[i], 4);
        Assert.Equal("sine-004", update.ClientId);
        Assert.Equal(7, update.Round);
        Assert.Equal(3 * 20, update.Weight);
    }

    [Fact]
    public void PerFedAvgHessianFreeDirection_MatchesFiniteDifferencesOfTheOneStepObjectiveInFloat64()
    {
        const double alpha = 0.05;
        var model = new Mlp(1, 8, 8, 1);
        var theta32 = model.Initialize(5);
        using var scope = NewDisposeScope();
        using var episode = TestEpisodes.Sinusoid(shots: 5, queries: 5, seed: 11).To(ScalarType.Float64);
        var theta = theta32.Values.Select(v => (double)v).ToArray();
        double[] Flat(Tensor[] ts) => cat(ts.Select(t => t.detach().reshape(-1)).ToArray(), 0).data<double>().ToArray();
        var hf = Flat(PerFedAvgUpdate.Direction(model, GradientCheck.ToTensors(theta, theta32.Layout), episode, alpha, hessianFree: true));
        var fo = Flat(PerFedAvgUpdate.Direction(model, GradientCheck.ToTensors(theta, theta32.Layout), episode, alpha, hessianFree: false));

        // J(w) = f(w − α∇f(w, support), query): one exact MAML inner step.
        var oneStep = new Maml(model, new AlgorithmOptions { InnerSteps = 1, InnerLearningRate = alpha });
        double diff = 0, foDiff = 0, norm = 0;
        const double h = 1e-6;
        for (int i = 0; i < theta.Length; i++)
        {
            double original = theta[i];
            theta[i] = original + h;
            double plus = GradientCheck.Objective(oneStep, theta, theta32.Layout, episode);
            theta[i] = original - h;
            double minus = GradientCheck.Objective(oneStep, theta, theta32.Layout, episode);
            theta[i] = original;
            double numeric = (plus - minus) / (2 * h);
            diff += (hf[i] - numeric) * (hf[i] - numeric);
            foDiff += (fo[i] - numeric) * (fo[i] - numeric);
            norm += numeric * numeric;
        }
        Assert.True(norm > 1e-8);
        Assert.True(Math.Sqrt(diff / norm) < 1e-6, $"HF relative error {Math.Sqrt(diff / norm)}");
        // The Hessian term matters here: the first-order direction is measurably off.
        Assert.True(Math.Sqrt(foDiff / norm) > 1e-3, $"FO relative error {Math.Sqrt(foDiff / norm)}");
    }

    [Fact]
    public void EveryAlgorithm_ComputesAFiniteUpdateOfThetasShape()
    {
        var federation = Federations.Sinusoid(4, 0, 1);
        foreach (string name in FederatedConfig.Algorithms)
        {
            var algorithm = FederatedAlgorithm.Create(FederatedConfig.ForAlgorithm("sinusoid", name) with { LocalEpisodes = 2, LocalSteps = 2 });
            var update = new FederatedClientTrainer(algorithm, federation.Client("sine-001")).Compute(algorithm.InitialParameters(), 0);
            Assert.Equal(algorithm.Layout.TotalCount, update.Values.Length);
            Assert.All(update.Values, v => Assert.True(float.IsFinite(v)));
            Assert.Contains(update.Values, v => v != 0);
        }
        Assert.Equal(40 + 40 + 40 * 40 + 40 + 40 + 1, FederatedAlgorithm.Create(FederatedConfig.ForAlgorithm("sinusoid", "fedavg")).Layout.TotalCount);
        Assert.Equal(2 * (40 + 40 + 40 * 40 + 40 + 40 + 1), FederatedAlgorithm.Create(FederatedConfig.ForAlgorithm("sinusoid", "fedmeta-metasgd")).Layout.TotalCount);
    }
}
