using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Conv4 task-batched (grouped convolutions, per-task batch norm) against one episode at a time, on tiny images:
/// 3-way 2-shot, 3 queries per class, 16×16 pixels, 4 filters.
/// </summary>
public class Conv4TaskBatchingTests
{
    private const int Ways = 3, Size = 16;
    private static Episode Sample(long index) => TestEpisodes.Images(Ways, 2, 3, Size, (ulong)(500 + index), index);

    public static TheoryData<string> Algorithms => new() { "maml", "fomaml", "reptile", "metasgd", "metasgd-fo", "anil", "anil-fo" };

    /// <param name="tasksPerPass">8 by default so that the 5 or 6 tasks of a call run as one grouped computation.</param>
    private static MetaAlgorithm Create(string name, BatchingMode batching, int tasksPerPass = 8)
    {
        var model = new Conv4(classes: Ways, filters: 4, imageSize: Size, tasksPerPass: tasksPerPass);
        var options = new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.1, Batching = batching };
        return name switch
        {
            "maml" => new Maml(model, options),
            "fomaml" => new Maml(model, options with { FirstOrder = true }),
            "reptile" => new Reptile(model, options with { InnerSteps = 3, InnerLearningRate = 0.01 }),
            "metasgd" => new MetaSgd(model, options),
            "metasgd-fo" => new MetaSgd(model, options with { FirstOrder = true }),
            "anil" => new Anil(model, options),
            _ => new Anil(model, options with { FirstOrder = true }),
        };
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void BatchedContributionsMatchTheOneAtATimePath(string name)
    {
        var loop = Create(name, BatchingMode.Loop);
        var batched = Create(name, BatchingMode.Batched);
        var theta = loop.Initialize(3);
        long[] indices = [0, 1, 2, 3, 4];
        var expected = loop.Contribute(theta, indices, Sample);
        var actual = batched.Contribute(theta, indices, Sample);
        Assert.True(batched.UsesTaskBatching(TaskKind.Classification));
        Assert.False(loop.UsesTaskBatching(TaskKind.Classification));
        ContributionAssert.Close(expected, actual);
    }

    [Theory]
    [InlineData("maml")]
    [InlineData("fomaml")]
    public void PassesOfTheDefaultSizeMatchTheOneAtATimePath(string name)
    {
        var loop = Create(name, BatchingMode.Loop);
        var batched = Create(name, BatchingMode.Batched, Conv4.DefaultTasksPerPass);
        var theta = loop.Initialize(6);
        long[] indices = [0, 1, 2, 3, 4];
        ContributionAssert.Close(loop.Contribute(theta, indices, Sample), batched.Contribute(theta, indices, Sample));
    }

    [Fact]
    public void StridedBlocksBatchedMatchTheOneAtATimePath()
    {
        MetaAlgorithm Strided(BatchingMode batching) => new Maml(
            new Conv4(classes: Ways, filters: 4, imageSize: Size, tasksPerPass: 8, downsampling: Downsampling.StridedConv),
            new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.1, Batching = batching });
        var loop = Strided(BatchingMode.Loop);
        var theta = loop.Initialize(3);
        long[] indices = [0, 1, 2, 3, 4];
        ContributionAssert.Close(loop.Contribute(theta, indices, Sample), Strided(BatchingMode.Batched).Contribute(theta, indices, Sample));
    }

    [Fact]
    public void AutoRunsConv4OneAtATimeAndMlpTaskBatched()
    {
        // The measured choice (docs/benchmarks.md): on CPU, batching Conv4 episodes did not pay; batching MLP ones did.
        Assert.False(new Maml(new Conv4(classes: Ways, filters: 4, imageSize: Size), new AlgorithmOptions()).UsesTaskBatching(TaskKind.Classification));
        Assert.True(new Maml(new Mlp(1, 8, 1), new AlgorithmOptions()).UsesTaskBatching(TaskKind.Regression));
    }

    [Theory]
    [InlineData("maml")]
    [InlineData("fomaml")]
    [InlineData("reptile")]
    public void BatchedContributionsAreTheSameBitsEveryTime(string name)
    {
        var batched = Create(name, BatchingMode.Batched);
        var theta = batched.Initialize(5);
        var first = batched.Contribute(theta, [0L, 1, 2, 3], Sample);
        var second = batched.Contribute(theta, [0L, 1, 2, 3], Sample);
        for (int e = 0; e < first.Count; e++) Assert.Equal(first[e].Values, second[e].Values);
    }

    [Theory]
    [InlineData("maml")]
    [InlineData("reptile")]
    public void BatchedContributionsDoNotDependOnHowEpisodesAreGrouped(string name)
    {
        // A worker's share of a round depends on the worker count; each task's result must not.
        var batched = Create(name, BatchingMode.Batched);
        var theta = batched.Initialize(4);
        var whole = batched.Contribute(theta, [0L, 1, 2, 3, 4, 5], Sample);
        var parts = batched.Contribute(theta, [0L, 1], Sample).Concat(batched.Contribute(theta, [2L, 3, 4, 5], Sample)).ToArray();
        var single = batched.Contribute(theta, [4L], Sample).Single();
        var pairs = Create(name, BatchingMode.Batched, tasksPerPass: 2).Contribute(theta, [0L, 1, 2, 3, 4, 5], Sample);
        for (int e = 0; e < 6; e++) Assert.Equal(whole[e].Values, parts[e].Values);
        for (int e = 0; e < 6; e++) Assert.Equal(whole[e].Values, pairs[e].Values);
        Assert.Equal(whole[4].Values, single.Values);
    }
}
