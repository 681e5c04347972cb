using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Tests;

public class PretrainTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchGradientMatchesFiniteDifferences(bool cosine)
    {
        var pretrain = new Pretrain(new Mlp(2, 8, 8, 4), new AlgorithmOptions(), classes: 4, cosine);
        using var batch = TestEpisodes.Clusters(ways: 4, shots: 3, queries: 1, spread: 3, seed: 11, radius: 2).To(ScalarType.Float64);
        var theta = pretrain.Initialize(5).Values.Select(v => (double)v).ToArray();
        // The objective is the batch loss Compute reports (a float64 value for a float64 batch).
        double Loss(double[] values)
        {
            using var scope = NewDisposeScope();
            return pretrain.Compute(GradientCheck.ToTensors(values, pretrain.Layout), batch).Metrics.PostLoss;
        }
        var analytic = GradientCheck.Analytic(pretrain, theta, pretrain.Layout, batch);
        double error = GradientCheck.RelativeError(theta, analytic, Loss, new DeterministicRandom(3).SampleWithoutReplacement(theta.Length, 60));
        Assert.True(error < 1e-5, $"relative error {error:E2}");
    }

    [Fact]
    public void ClassBatchesAreSeededAndLabelledWithGlobalClasses()
    {
        // Every pixel of image k of base class c is c + k/100: an image names its class and drawing.
        int classes = 3, perClass = 5;
        var pixels = new float[classes * perClass * 16 * 16];
        for (int c = 0; c < classes; c++)
            for (int k = 0; k < perClass; k++)
                pixels.AsSpan((c * perClass + k) * 256, 256).Fill(c + k / 100f);
        var images = new ImageClassSet(pixels, 16, 16, ["a", "b", "c"], [perClass, perClass, perClass]);
        var source = new ClassBatchSource(new ClassEpisodeSource(images, ClassView.For([0, 1, 2], rotate: true), "tiny"));
        var spec = new EpisodeSpec(2, 1, 3);
        using var batch = source.Sample(spec, 4, seed: 77);
        using var again = source.Sample(spec, 4, seed: 77);
        using var other = source.Sample(spec, 5, seed: 78);
        Assert.Equal(12, source.ClassCount); // 3 characters × 4 rotations
        Assert.Equal(12, batch.Ways);
        Assert.Equal([8L, 1, 16, 16], batch.SupportX.shape);
        Assert.Equal(0, batch.QueryX.shape[0]);
        Assert.True(batch.SupportX.eq(again.SupportX).all().item<bool>() && batch.SupportY.eq(again.SupportY).all().item<bool>());
        Assert.False(batch.SupportX.eq(other.SupportX).all().item<bool>() && batch.SupportY.eq(other.SupportY).all().item<bool>());
        var labels = batch.SupportY.data<long>().ToArray();
        for (int i = 0; i < labels.Length; i++)
        {
            float value = batch.SupportX[i, 0, 3, 7].item<float>();
            Assert.Equal(labels[i] / 4, (long)Math.Floor(value)); // view → base class: rotations are 4 consecutive views
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FineTuningANewHeadFitsTheSupportSetWithTheBodyFrozen(bool cosine)
    {
        var model = new Mlp(2, 8, 8, 4);
        var pretrain = new Pretrain(model, new AlgorithmOptions { InnerLearningRate = 0.5 }, classes: 7, cosine);
        using var episode = TestEpisodes.Clusters(ways: 3, shots: 4, queries: 3, spread: 1, seed: 2, radius: 4);
        using var scope = NewDisposeScope();
        var theta = pretrain.Initialize(1).ToTensors(requiresGrad: true);
        double SupportLoss(IReadOnlyList<Tensor> adapted)
        {
            using var _ = no_grad();
            var features = model.Embed(episode.SupportX, adapted.Take(model.HeadStart).ToArray());
            return F.cross_entropy(pretrain.HeadLogits(features, adapted.Skip(model.HeadStart).ToArray()), episode.SupportY).item<float>();
        }
        var start = pretrain.Adapt(theta, episode, 0);
        var tuned = pretrain.Adapt(theta, episode, 30);
        for (int i = 0; i < model.HeadStart; i++) Assert.Same(theta[i], tuned[i]);
        Assert.Equal([3L, 8], tuned[model.HeadStart].shape); // a head for the episode's 3 classes, not the 7 trained ones
        Assert.True(SupportLoss(tuned) < 0.7 * SupportLoss(start), $"support loss {SupportLoss(start):F4} → {SupportLoss(tuned):F4}");
        if (!cosine) Assert.Equal(Math.Log(3), SupportLoss(start), 5); // a zero linear head: uniform
    }

    [Theory]
    [InlineData("cosine")]
    [InlineData("linear")]
    public void LearnsOnGeneratedClasses(string head)
    {
        var config = TrainingConfig.ForDataset("folder", "pretrain") with
        {
            Ways = 5, Shots = 1, Queries = 5, MetaBatch = 2, Iterations = 150, Seed = 1, OuterLr = 0.01, PretrainHead = head,
        };
        var (before, after) = GeneratedClasses.LearningCurve(config, GeneratedClasses.Data(40, 20), evalSteps: config.EvalSteps);
        output.WriteLine($"pretrain ({head}) 5-way 1-shot: {before:F3} → {after:F3}");
        Assert.True(after > 0.5 && after > before + 0.2, $"{before:F3} → {after:F3}");
    }

    [Fact]
    public void ContributingAndEvaluatingLeaveNoTensorAlive()
    {
        // A worker computes class batches round after round: nothing of a batch's graph, nor of a fine-tuned head, may
        // outlive the call.
        var pretrain = new Pretrain(new Conv4(classes: 3, filters: 4, imageSize: 16), new AlgorithmOptions { InnerLearningRate = 0.1 }, classes: 3, cosine: true);
        var theta = pretrain.Initialize(1);
        pretrain.Contribute(theta, [0L], _ => TestEpisodes.Images(3, 2, 2, 16, 1)); // warm-up: lazily created globals
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Equal(3, pretrain.Contribute(theta, [0L, 1L, 2L], i => TestEpisodes.Images(3, 2, 2, 16, (ulong)i)).Count);
        using (var episode = TestEpisodes.Images(3, 2, 2, 16, 5))
            pretrain.Evaluate(theta, episode, steps: 3, BatchNormMode.NonTransductive);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
