using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// Ordinary supervised mini-batches over every class of a <see cref="ClassEpisodeSource"/>, presented as episodes so
/// the pre-train baseline trains through the same streams, trainer, workers and exact aggregation as meta-learning:
/// "episode" i is a seeded batch of Ways × (Shots + Queries) images, each drawn uniformly over classes and then over
/// that class's images (with replacement), labelled with its global class index 0..ClassCount−1. The batch is the
/// support set; the query set is empty. Same index and seed ⇒ same batch, whoever samples it.
/// </summary>
public sealed class ClassBatchSource(ClassEpisodeSource classes) : IEpisodeSource
{
    public string Name => $"{classes.Name}, class batches";
    public TaskKind Kind => TaskKind.Classification;
    public IReadOnlyList<long> InputShape => classes.InputShape;
    public int ClassCount => classes.ClassCount;

    /// <summary>Images per batch for a spec: the same count an episode of that spec holds.</summary>
    public static int BatchSize(EpisodeSpec spec) => spec.Ways * (spec.Shots + spec.Queries);

    public void Validate(EpisodeSpec spec)
    {
        spec.Validate();
        var empty = classes.Views.Select(v => v.BaseClass).Distinct().Where(c => classes.Images.ImageCount(c) == 0).ToList();
        if (empty.Count > 0)
            throw new ArgumentException($"class '{classes.Images.ClassNames[empty[0]]}' in {classes.Name} has no images; remove it or add images.");
    }

    public Episode Sample(EpisodeSpec spec, long index, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        int n = BatchSize(spec), size = classes.Images.ValuesPerImage;
        var x = empty([n, classes.Images.Channels, classes.Images.Height, classes.Images.Width], ScalarType.Float32);
        var pixels = TensorData.Writable(x);
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            int label = rng.NextInt(classes.ClassCount);
            var view = classes.Views[label];
            int image = rng.NextInt(classes.Images.ImageCount(view.BaseClass));
            classes.CopyView(view, image, pixels.Slice(i * size, size));
            labels[i] = label;
        }
        return new Episode(index, TaskKind.Classification, classes.ClassCount, x, tensor(labels, [n]),
            empty([0, classes.Images.Channels, classes.Images.Height, classes.Images.Width], ScalarType.Float32), empty([0], ScalarType.Int64));
    }
}
