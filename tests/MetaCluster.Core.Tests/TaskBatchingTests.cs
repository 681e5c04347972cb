using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Tests;

public class TaskBatchingTests
{
    private static readonly SinusoidSource Source = new();
    private static readonly EpisodeSpec Spec = new(1, 10, 10);
    private static Episode Sample(long index) => Source.Sample(Spec, index, (ulong)(1000 + index));

    public static TheoryData<string> Algorithms => new() { "maml", "fomaml", "reptile-sgd", "reptile-adam" };

    private static MetaAlgorithm Create(string name, BatchingMode batching)
    {
        var model = new Mlp(1, 40, 40, 1);
        var options = new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.01, Batching = batching };
        return name switch
        {
            "maml" => new Maml(model, options),
            "fomaml" => new Maml(model, options with { FirstOrder = true }),
            "reptile-sgd" => new Reptile(model, options with { InnerSteps = 5 }),
            _ => new Reptile(model, options with { InnerSteps = 5, ReptileInnerOptimizer = InnerOptimizerKind.Adam, InnerLearningRate = 0.001 }),
        };
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void BatchedContributionsMatchTheOneAtATimePath(string name)
    {
        var loop = Create(name, BatchingMode.Loop);
        var batched = Create(name, BatchingMode.Batched);
        var theta = loop.Initialize(3);
        long[] indices = [0, 1, 2, 3, 4, 5, 6];
        var expected = loop.Contribute(theta, indices, Sample);
        var actual = batched.Contribute(theta, indices, Sample);
        Assert.True(batched.UsesTaskBatching(TaskKind.Regression));
        for (int e = 0; e < indices.Length; e++)
        {
            Assert.Equal(expected[e].EpisodeIndex, actual[e].EpisodeIndex);
            double diff = 0, norm = 0;
            for (int i = 0; i < expected[e].Values.Length; i++)
            {
                double d = expected[e].Values[i] - actual[e].Values[i];
                diff += d * d;
                norm += (double)expected[e].Values[i] * expected[e].Values[i];
            }
            double relative = Math.Sqrt(diff / norm);
            Assert.True(relative <= 1e-5, $"episode {e}: relative difference {relative:E2}");
            Assert.Equal(expected[e].Metrics.PostLoss, actual[e].Metrics.PostLoss, 1e-4);
            Assert.Equal(expected[e].Metrics.PreLoss!.Value, actual[e].Metrics.PreLoss!.Value, 1e-4);
        }
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void BatchedContributionsDoNotDependOnHowEpisodesAreGrouped(string name)
    {
        // A worker's share of a round depends on the worker count; each task's result must not.
        var batched = Create(name, BatchingMode.Batched);
        var theta = batched.Initialize(4);
        var whole = batched.Contribute(theta, [0L, 1, 2, 3, 4, 5, 6, 7], Sample);
        var parts = batched.Contribute(theta, [0L, 1, 2], Sample).Concat(batched.Contribute(theta, [3L, 4, 5, 6, 7], Sample)).ToArray();
        var single = batched.Contribute(theta, [5L], Sample).Single();
        for (int e = 0; e < 8; e++) Assert.Equal(whole[e].Values, parts[e].Values);
        Assert.Equal(whole[5].Values, single.Values);
    }

    [Fact]
    public void ForcingBatchingWhereItIsUnsupportedIsAClearError()
    {
        var anil = new Anil(new Mlp(1, 8, 1), new AlgorithmOptions { Batching = BatchingMode.Batched });
        var error = Assert.Throws<ArgumentException>(() => anil.Contribute(anil.Initialize(1), [0L], Sample));
        Assert.Contains("cannot run task-batched", error.Message);
        var conv = new Maml(new Conv4(classes: 2, filters: 2, imageSize: 16), new AlgorithmOptions());
        Assert.False(conv.UsesTaskBatching(TaskKind.Classification));
    }
}
