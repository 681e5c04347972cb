using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Tests;

public class TaskBatchingTests
{
    private static readonly SinusoidSource Source = new();
    private static readonly EpisodeSpec Spec = new(1, 10, 10);
    private static Episode Sample(long index) => Source.Sample(Spec, index, (ulong)(1000 + index));

    public static TheoryData<string> Algorithms => new() { "maml", "fomaml", "reptile-sgd", "reptile-adam", "metasgd", "metasgd-fo", "anil", "anil-fo" };

    private static MetaAlgorithm Create(string name, BatchingMode batching)
    {
        var model = new Mlp(1, 40, 40, 1);
        var options = new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.01, Batching = batching };
        return name switch
        {
            "maml" => new Maml(model, options),
            "fomaml" => new Maml(model, options with { FirstOrder = true }),
            "reptile-sgd" => new Reptile(model, options with { InnerSteps = 5 }),
            "metasgd" => new MetaSgd(model, options),
            "metasgd-fo" => new MetaSgd(model, options with { FirstOrder = true }),
            "anil" => new Anil(model, options),
            "anil-fo" => new Anil(model, options with { FirstOrder = true }),
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
        ContributionAssert.Close(expected, actual);
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
        var protoNet = new ProtoNet(new Mlp(1, 8, 1), new AlgorithmOptions { Batching = BatchingMode.Batched });
        var error = Assert.Throws<ArgumentException>(() => protoNet.UsesTaskBatching(TaskKind.Classification));
        Assert.Contains("cannot run task-batched", error.Message);
    }
}
