using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

/// <summary>
/// A generated few-shot image dataset for learning tests: 8×8 images whose first <see cref="SignalPixels"/> pixels
/// are the class's fixed random binary pattern (a fraction flipped per image) and whose other pixels are fresh coin
/// flips in every image. A random embedding mixes the noise in and separates the classes poorly; a learned one
/// ignores it. Train and test classes are disjoint.
/// </summary>
internal static class GeneratedClasses
{
    public const int Size = 8, SignalPixels = 16;

    public static ImageClassSet Images(int classes, int perClass, double flip, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        int pixelsPerImage = Size * Size;
        var pixels = new float[classes * perClass * pixelsPerImage];
        for (int c = 0; c < classes; c++)
        {
            var pattern = new bool[SignalPixels];
            for (int i = 0; i < pattern.Length; i++) pattern[i] = rng.NextDouble() < 0.5;
            for (int k = 0; k < perClass; k++)
            {
                var image = pixels.AsSpan((c * perClass + k) * pixelsPerImage, pixelsPerImage);
                for (int i = 0; i < pixelsPerImage; i++)
                    image[i] = (i < SignalPixels ? pattern[i] ^ (rng.NextDouble() < flip) : rng.NextDouble() < 0.5) ? 1f : 0f;
            }
        }
        return new ImageClassSet(pixels, Size, Size, Enumerable.Range(0, classes).Select(c => $"class{c:000}").ToArray(),
            Enumerable.Repeat(perClass, classes).ToArray());
    }

    /// <summary>Train classes first, then test classes, of one generated set.</summary>
    public static RunData Data(int trainClasses, int testClasses, int perClass = 12, double flip = 0.1, ulong seed = 3)
    {
        var images = Images(trainClasses + testClasses, perClass, flip, seed);
        var train = new ClassEpisodeSource(images, ClassView.For(Enumerable.Range(0, trainClasses), rotate: false), "generated-train");
        var test = new ClassEpisodeSource(images, ClassView.For(Enumerable.Range(trainClasses, testClasses), rotate: false), "generated-test");
        return new RunData(train, null, test, "generated");
    }

    /// <summary>A run of <paramref name="config"/> on a small MLP over the flattened images (the factory's path after the model).</summary>
    public static TrainingRun Run(TrainingConfig config, RunData data, Func<IFunctionalModel, MetaAlgorithm>? algorithm = null)
    {
        if (config.Algorithm == "pretrain" && config.PretrainClasses == 0)
            config = config with { PretrainClasses = ((ClassEpisodeSource)data.Train).ClassCount };
        var model = new FlatMlp(new Mlp(Size * Size, 32, 32, config.Ways));
        var blueprint = new RunBlueprint(config, model, algorithm?.Invoke(model) ?? TrainingRun.CreateAlgorithm(config, model), new EpisodeSpec(config.Ways, config.Shots, config.Queries));
        return RunFactory.WithData(blueprint, data);
    }

    /// <summary>Mean query accuracy on 50 fixed test episodes before and after <paramref name="config"/>'s rounds of training.</summary>
    public static (double Before, double After) LearningCurve(TrainingConfig config, RunData data, int evalSteps,
        Func<IFunctionalModel, MetaAlgorithm>? algorithm = null)
    {
        var run = Run(config, data, algorithm);
        var episodes = run.EvaluationStream(seed: 99);
        double Accuracy(ParameterSet theta) =>
            Evaluator.Evaluate(run.Algorithm, theta, episodes, 50, evalSteps, BatchNormMode.Transductive).Accuracy!.Mean;
        var trainer = new MetaTrainer(run);
        double before = Accuracy(trainer.Theta);
        while (!trainer.Finished) trainer.RunRound();
        return (before, Accuracy(trainer.Theta));
    }
}

/// <summary>An MLP over images flattened to vectors: fast enough for learning tests of the image-episode algorithms.</summary>
internal sealed class FlatMlp(Mlp mlp) : IFunctionalModel
{
    public string Name => "flat-" + mlp.Name;
    public ParameterLayout Layout => mlp.Layout;
    public int HeadStart => mlp.HeadStart;
    public bool UsesBatchStatistics => false;
    public TorchSharp.torch.Tensor Embed(TorchSharp.torch.Tensor x, IReadOnlyList<TorchSharp.torch.Tensor> body) => mlp.Embed(x.flatten(1), body);
    public TorchSharp.torch.Tensor Head(TorchSharp.torch.Tensor features, IReadOnlyList<TorchSharp.torch.Tensor> head) => mlp.Head(features, head);
    public ParameterSet Initialize(ulong seed) => mlp.Initialize(seed);
}
