using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

public class AlgorithmBehaviourTests
{
    [Fact]
    public void ReptileContributionEqualsHandComputedSgdSteps()
    {
        // A linear model y = w·x + b: the MSE gradient is 2·mean(r·x), 2·mean(r) with r = w·x + b − y.
        var model = new Mlp(1, 1);
        var reptile = new Reptile(model, new AlgorithmOptions { InnerSteps = 3, InnerLearningRate = 0.05 });
        var theta = new ParameterSet(model.Layout, [0.3f, -0.2f]);
        using var episode = TestEpisodes.Sinusoid(shots: 4, queries: 3);
        var x = episode.SupportX.data<float>().Concat(episode.QueryX.data<float>()).Select(v => (double)v).ToArray();
        var y = episode.SupportY.data<float>().Concat(episode.QueryY.data<float>()).Select(v => (double)v).ToArray();

        double w = 0.3f, b = -0.2f;
        for (int step = 0; step < 3; step++)
        {
            var r = x.Select((xi, i) => w * xi + b - y[i]).ToArray();
            double gw = 2 * r.Select((ri, i) => ri * x[i]).Average(), gb = 2 * r.Average();
            w -= 0.05 * gw;
            b -= 0.05 * gb;
        }

        var contribution = reptile.Contribute(theta, [0L], _ => TestEpisodes.Sinusoid(shots: 4, queries: 3)).Single();
        Assert.Equal(w - 0.3f, contribution.Values[0], 1e-5);
        Assert.Equal(b - -0.2f, contribution.Values[1], 1e-5);
        Assert.Equal(ContributionKind.Delta, reptile.Kind);
    }

    [Fact]
    public void ReptileWithAnInnerBatchTrainsEachStepOnItsOwnRows()
    {
        // As above, but each of the 4 steps sees only the 3 rows InnerBatches deals it from the 7 examples.
        var model = new Mlp(1, 1);
        var options = new AlgorithmOptions { InnerSteps = 4, InnerLearningRate = 0.05, ReptileInnerBatch = 3, ShuffleSeed = 21 };
        var reptile = new Reptile(model, options);
        var theta = new ParameterSet(model.Layout, [0.3f, -0.2f]);
        using var episode = TestEpisodes.Sinusoid(shots: 4, queries: 3);
        var x = episode.SupportX.data<float>().Concat(episode.QueryX.data<float>()).Select(v => (double)v).ToArray();
        var y = episode.SupportY.data<float>().Concat(episode.QueryY.data<float>()).Select(v => (double)v).ToArray();
        var batches = reptile.InnerBatches(episode.Index, 7)!;

        var (w, b) = SgdStepsOnRows(0.3f, -0.2f, x, y, batches, 0.05);

        var contribution = reptile.Contribute(theta, [episode.Index], _ => TestEpisodes.Sinusoid(shots: 4, queries: 3)).Single();
        Assert.Equal(w - 0.3f, contribution.Values[0], 1e-5);
        Assert.Equal(b - -0.2f, contribution.Values[1], 1e-5);
        // Mini-batches are per episode, so the run computes its episodes one by one even where MLPs batch tasks.
        Assert.False(reptile.UsesTaskBatching(TaskKind.Regression));
        Assert.True(new Reptile(model, options with { ReptileInnerBatch = 0 }).UsesTaskBatching(TaskKind.Regression));
    }

    [Fact]
    public void ReptileEvaluationAdaptsOnItsOwnDealtSupportRows()
    {
        // Three SGD steps at evaluation, each on the 2 of the 4 support examples EvaluationBatches deals it.
        var model = new Mlp(1, 1);
        var reptile = new Reptile(model, new AlgorithmOptions { InnerSteps = 5, InnerLearningRate = 0.05, ReptileEvalBatch = 2, ShuffleSeed = 4 });
        var theta = new ParameterSet(model.Layout, [0.3f, -0.2f]);
        using var episode = TestEpisodes.Sinusoid(index: 9, shots: 4, queries: 3);
        var x = episode.SupportX.data<float>().Select(v => (double)v).ToArray();
        var y = episode.SupportY.data<float>().Select(v => (double)v).ToArray();
        var batches = reptile.EvaluationBatches(episode.Index, 4, 3)!;
        Assert.Equal(3, batches.Length);
        Assert.Equal([0L, 1, 2, 3], batches[0].Concat(batches[1]).Order()); // one pass, then a new shuffle

        var (w, b) = SgdStepsOnRows(0.3f, -0.2f, x, y, batches, 0.05);

        using var scope = NewDisposeScope();
        var adapted = reptile.Adapt(theta.ToTensors(requiresGrad: true), episode, 3);
        Assert.Equal(w, adapted[0].item<float>(), 1e-5);
        Assert.Equal(b, adapted[1].item<float>(), 1e-5);
        // Training's inner batches are a stream of their own; without an evaluation batch every step sees the whole set.
        Assert.Null(reptile.InnerBatches(episode.Index, 7));
        Assert.Null(new Reptile(model, new AlgorithmOptions()).EvaluationBatches(episode.Index, 4, 3));
    }

    /// <summary>SGD on the linear model y = w·x + b, one step per batch of rows: the MSE gradient is 2·mean(r·x), 2·mean(r), r = w·x + b − y.</summary>
    private static (double W, double B) SgdStepsOnRows(double w, double b, double[] x, double[] y, IEnumerable<long[]> batches, double lr)
    {
        foreach (var rows in batches)
        {
            var r = rows.Select(i => w * x[i] + b - y[i]).ToArray();
            double gw = 2 * r.Select((ri, k) => ri * x[rows[k]]).Average(), gb = 2 * r.Average();
            w -= lr * gw;
            b -= lr * gb;
        }
        return (w, b);
    }

    [Fact]
    public void ReptileInnerBatchesDealEachShuffleOutInTurn()
    {
        var reptile = new Reptile(new Mlp(1, 1), new AlgorithmOptions { InnerSteps = 5, ReptileInnerBatch = 10, ShuffleSeed = 1 });
        // Omniglot's reference setting: 5 steps of 10 from 5 × 10 examples make exactly one pass, each example once.
        var pass = reptile.InnerBatches(7, 50)!;
        Assert.Equal(5, pass.Length);
        Assert.All(pass, batch => Assert.Equal(10, batch.Length));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), pass.SelectMany(batch => batch).Order());
        Assert.NotEqual(Enumerable.Range(0, 50).Select(i => (long)i), pass.SelectMany(batch => batch)); // shuffled

        // 5 steps of 10 from 30: one shuffle covers steps 1-3, a new one steps 4-5 (the reference's carry-over).
        var twice = reptile.InnerBatches(7, 30)!.SelectMany(batch => batch).ToArray();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), twice[..30].Order());
        Assert.Equal(20, twice[30..].Distinct().Count());

        // The run's seed and the episode fix the batches, whoever computes them; the full batch is no batches.
        Assert.Equal(pass, reptile.InnerBatches(7, 50));
        Assert.NotEqual(pass, reptile.InnerBatches(8, 50));
        Assert.NotEqual(pass, new Reptile(new Mlp(1, 1), new AlgorithmOptions { InnerSteps = 5, ReptileInnerBatch = 10, ShuffleSeed = 2 }).InnerBatches(7, 50));
        Assert.Null(reptile.InnerBatches(7, 10));
    }

    [Fact]
    public void ReptileWithAdamTakesBoundedStepsOfTheLearningRate()
    {
        // With β1 = 0, Adam's first step moves every weight by lr·g/(|g|+ε) ≈ ±lr.
        var model = new Mlp(1, 1);
        var reptile = new Reptile(model, new AlgorithmOptions { InnerSteps = 1, InnerLearningRate = 0.01, ReptileInnerOptimizer = InnerOptimizerKind.Adam });
        var theta = new ParameterSet(model.Layout, [0.3f, -0.2f]);
        var contribution = reptile.Contribute(theta, [0L], _ => TestEpisodes.Sinusoid()).Single();
        Assert.All(contribution.Values, v => Assert.Equal(0.01, Math.Abs(v), 1e-6));
    }

    /// <summary>
    /// Adam's denominator once added ε with <c>add_(ε)</c>, whose implicit alpha Scalar of 1 TorchSharp leaves to the
    /// finalizer: a garbage collection on another thread could free it while libtorch read it, and a 600-episode 20-way
    /// 5-shot evaluation (50 Adam steps an episode) died with "Expected false to be true … toFloat". Here a thread
    /// collects garbage and runs finalizers as fast as it can while thousands of Adam steps run; the result must be the
    /// one a quiet run gives.
    /// </summary>
    [Fact]
    public void ReptileAdamStepsSurviveGarbageCollectionsDuringTheirKernels()
    {
        var model = new Mlp(1, 1);
        var reptile = new Reptile(model, new AlgorithmOptions { InnerSteps = 4000, InnerLearningRate = 0.001, ReptileInnerOptimizer = InnerOptimizerKind.Adam });
        var theta = new ParameterSet(model.Layout, [0.3f, -0.2f]);
        var quiet = reptile.Contribute(theta, [0L], _ => TestEpisodes.Sinusoid()).Single().Values.ToArray();
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        });
        collector.Start();
        try
        {
            for (int run = 0; run < 3; run++)
                Assert.Equal(quiet, reptile.Contribute(theta, [0L], _ => TestEpisodes.Sinusoid()).Single().Values.ToArray());
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
    }

    [Fact]
    public void ReptileWithCarriedAdamStateStepsFromTheRoundsMomentAndCount()
    {
        // θ = (w, b, √v_w, √v_b, steps): two Adam steps (β1 = 0, β2 = 0.999) from the carried second moment and count,
        // by hand; the contribution is (Δw, Δb, Δ√v_w, Δ√v_b, 2).
        var model = new Mlp(1, 1);
        var options = new AlgorithmOptions { InnerSteps = 2, InnerLearningRate = 0.01, ReptileInnerOptimizer = InnerOptimizerKind.Adam, ReptileCarriesAdamState = true };
        var reptile = new Reptile(model, options);
        var names = model.Layout.Parameters.Select(p => p.Name).ToArray();
        Assert.Equal([.. names, .. names.Select(n => "adam_rms." + n), "adam_steps"], reptile.Layout.Parameters.Select(p => p.Name));
        Assert.Equal(2, reptile.OptimizedCount);
        float[] start = [0.3f, -0.2f, 20f, 0.5f, 7f];
        var theta = new ParameterSet(reptile.Layout, start);
        using var episode = TestEpisodes.Sinusoid(shots: 4, queries: 3);
        var supportX = episode.SupportX.data<float>().Select(v => (double)v).ToArray();
        var supportY = episode.SupportY.data<float>().Select(v => (double)v).ToArray();
        var x = supportX.Concat(episode.QueryX.data<float>().Select(v => (double)v)).ToArray();
        var y = supportY.Concat(episode.QueryY.data<float>().Select(v => (double)v)).ToArray();

        (double W, double B, double Vw, double Vb) TwoAdamSteps(double[] xs, double[] ys)
        {
            double w = start[0], b = start[1], vw = start[2] * start[2], vb = start[3] * start[3];
            for (int step = 1; step <= 2; step++)
            {
                var r = xs.Select((xi, i) => w * xi + b - ys[i]).ToArray();
                double gw = 2 * r.Select((ri, i) => ri * xs[i]).Average(), gb = 2 * r.Average();
                vw = 0.999 * vw + 0.001 * gw * gw;
                vb = 0.999 * vb + 0.001 * gb * gb;
                double correction = Math.Sqrt(1 - Math.Pow(0.999, 7 + step));
                w -= 0.01 * gw / (Math.Sqrt(vw) / correction + 1e-8);
                b -= 0.01 * gb / (Math.Sqrt(vb) / correction + 1e-8);
            }
            return (w, b, vw, vb);
        }

        var expected = TwoAdamSteps(x, y);
        var contribution = reptile.Contribute(theta, [0L], _ => TestEpisodes.Sinusoid(shots: 4, queries: 3)).Single().Values;
        Assert.Equal(expected.W - start[0], contribution[0], 1e-6);
        Assert.Equal(expected.B - start[1], contribution[1], 1e-6);
        Assert.Equal(Math.Sqrt(expected.Vw) - start[2], contribution[2], 1e-5);
        Assert.Equal(Math.Sqrt(expected.Vb) - start[3], contribution[3], 1e-6);
        Assert.Equal(2f, contribution[4]);
        // The large carried v_w makes w's two steps small beside a fresh Adam's 2 × lr: the state is really read.
        Assert.True(Math.Abs(contribution[0]) < 0.005, $"Δw = {contribution[0]}");
        // Per-episode state: computed one by one even where MLPs batch tasks.
        Assert.False(reptile.UsesTaskBatching(TaskKind.Regression));

        // Adaptation at evaluation starts from the same state, on the support set alone, and yields the weights only.
        using var scope = NewDisposeScope();
        var adapted = reptile.Adapt(theta.ToTensors(requiresGrad: true), episode, 2);
        var onSupport = TwoAdamSteps(supportX, supportY);
        Assert.Equal(2, adapted.Count);
        Assert.Equal(onSupport.W, adapted[0].item<float>(), 1e-6);
        Assert.Equal(onSupport.B, adapted[1].item<float>(), 1e-6);
    }

    [Fact]
    public void ProtoNetClassifiesWellSeparatedClustersCorrectly()
    {
        var model = new Mlp(2, 64, 64, 4);
        var proto = new ProtoNet(model, new AlgorithmOptions());
        var theta = proto.Initialize(1);
        using var episode = TestEpisodes.Clusters(ways: 4, shots: 3, queries: 10, spread: 0.5, seed: 3);
        var (_, accuracy) = proto.Evaluate(theta, episode, steps: 0, BatchNormMode.Transductive);
        Assert.Equal(1.0, accuracy);
        Assert.Equal(model.HeadStart, proto.Layout.Count); // the head is not part of a prototypical network
    }

    [Fact]
    public void ProtoNetRejectsRegression()
    {
        var proto = new ProtoNet(new Mlp(1, 40, 1), new AlgorithmOptions());
        var error = Assert.Throws<ArgumentException>(() => proto.Validate(TaskKind.Regression));
        Assert.Contains("classification", error.Message);
    }

    [Fact]
    public void PerEpisodeContributionsAreIndexedAndIndependentOfBatching()
    {
        var model = new Mlp(1, 10, 1);
        var maml = new Maml(model, new AlgorithmOptions { InnerSteps = 1, InnerLearningRate = 0.01 });
        var theta = maml.Initialize(2);
        var source = new SinusoidSource();
        var spec = new EpisodeSpec(1, 5, 5);
        Episode Sample(long i) => source.Sample(spec, i, (ulong)(100 + i));
        var together = maml.Contribute(theta, [4L, 5L, 6L], Sample);
        var alone = new[] { 6L, 4L, 5L }.Select(i => maml.Contribute(theta, [i], Sample).Single()).OrderBy(c => c.EpisodeIndex).ToArray();
        Assert.Equal([4L, 5L, 6L], together.Select(c => c.EpisodeIndex));
        for (int i = 0; i < 3; i++) Assert.Equal(together[i].Values, alone[i].Values);
    }

    [Fact]
    public void MetricsReportAdaptationOnTheQuerySet()
    {
        var model = new Mlp(2, 16, 3);
        var maml = new Maml(model, new AlgorithmOptions { InnerSteps = 5, InnerLearningRate = 0.5 });
        var contribution = maml.Contribute(maml.Initialize(1), [0L], _ => TestEpisodes.Clusters(3, 5, 5, 0.5, 2)).Single();
        Assert.NotNull(contribution.Metrics.PreAccuracy);
        Assert.True(contribution.Metrics.PostLoss < contribution.Metrics.PreLoss,
            $"five SGD steps on well-separated clusters should lower the query loss ({contribution.Metrics.PreLoss} → {contribution.Metrics.PostLoss})");
    }

    [Theory]
    [InlineData("maml")]
    [InlineData("fomaml")]
    [InlineData("reptile")]
    [InlineData("metasgd")]
    [InlineData("anil")]
    [InlineData("protonet")]
    [InlineData("matchingnet")]
    [InlineData("metanet")]
    [InlineData("maml", "batched")]
    [InlineData("reptile", "batched")]
    [InlineData("anil", "batched")]
    public void ContributingLeavesNoTensorAlive(string algorithm, string batching = "auto")
    {
        // Each episode's (or pass's) graph lives in its own dispose scope and the call's leaves in the call's scope:
        // nothing may outlive Contribute, or a worker's memory would grow round after round.
        var model = new Conv4(classes: 3, filters: 4, imageSize: 16);
        var config = Training.TrainingConfig.ForDataset("omniglot", algorithm) with { Ways = 3, InnerSteps = 2, Batching = batching };
        var algo = Training.TrainingRun.CreateAlgorithm(config, model);
        var theta = algo.Initialize(1);
        algo.Contribute(theta, [0L], _ => TestEpisodes.Images(3, 1, 2, 16, 1)); // warm-up: lazily created globals
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var contributions = algo.Contribute(theta, [0L, 1L, 2L], i => TestEpisodes.Images(3, 1, 2, 16, (ulong)i));
        Assert.Equal(3, contributions.Count);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void AZeroHeadStartsEveryClassEquallyLikely()
    {
        var model = new Conv4(classes: 5, headInit: HeadInit.Zeros);
        var theta = model.Initialize(0);
        var head = model.Layout.Parameters.Single(p => p.Name == "head.weight");
        Assert.All(theta.Values.AsSpan(head.Offset, head.Count).ToArray(), v => Assert.Equal(0f, v));
        using var scope = NewDisposeScope();
        var loss = TaskLoss.Loss(model.Forward(rand(10, 1, 28, 28), theta.ToTensors()), arange(10L) % 5, TaskKind.Classification);
        Assert.Equal(Math.Log(5), loss.item<float>(), 5); // uniform logits: cross-entropy log N
        // The body is initialised exactly as with the paper's normal head.
        var normal = new Conv4(classes: 5).Initialize(0);
        Assert.Equal(normal.Values[..head.Offset], theta.Values[..head.Offset]);
    }

    [Fact]
    public void Conv4HasTheMamlPaperShape()
    {
        var model = new Conv4(classes: 5);
        Assert.Equal(112_261, model.Layout.TotalCount);
        using var scope = NewDisposeScope();
        var output = model.Forward(rand(7, 1, 28, 28), model.Initialize(0).ToTensors());
        Assert.Equal([7L, 5L], output.shape);
    }
}
