using System.Runtime.InteropServices;
using MetaCluster.Core.Episodes;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

public sealed class ImageClassEpisodeTests : IDisposable
{
    private readonly TinyOmniglot _data = new();

    public void Dispose() => _data.Dispose();

    private ClassEpisodeSource RotatedTrain() =>
        OmniglotDataset.Load(_data.Dir, new OmniglotOptions { TrainCharacters = 6, Rotate = true, UseCache = false }).Train;

    private static string Key(ReadOnlySpan<float> image) => Convert.ToBase64String(MemoryMarshal.AsBytes(image));

    private static float[] Rot90(ReadOnlySpan<float> image, int side, int quarterTurns)
    {
        using var t = tensor(image.ToArray(), [side, side]).rot90(quarterTurns, (0, 1)).contiguous();
        return t.data<float>().ToArray();
    }

    private static float[] Row(Tensor x, long i) => x[i].contiguous().data<float>().ToArray();

    [Fact]
    public void Episode_HasTheDocumentedShapesAndDtypes()
    {
        var source = RotatedTrain();
        Assert.Equal(TaskKind.Classification, source.Kind);
        Assert.Equal([1L, 28, 28], source.InputShape);
        using var e = source.Sample(new EpisodeSpec(5, 2, 1), 7, 42);
        Assert.Equal((7L, 5), (e.Index, e.Ways));
        Assert.Equal([10L, 1, 28, 28], e.SupportX.shape);
        Assert.Equal([5L, 1, 28, 28], e.QueryX.shape);
        Assert.Equal([10L], e.SupportY.shape);
        Assert.Equal([5L], e.QueryY.shape);
        Assert.Equal((ScalarType.Float32, ScalarType.Int64), (e.SupportX.dtype, e.SupportY.dtype));
        Assert.Equal((ScalarType.Float32, ScalarType.Int64), (e.QueryX.dtype, e.QueryY.dtype));
    }

    [Fact]
    public void Episode_LabelsAreRemappedClassMajor_AndEveryImageShowsItsLabelsClass()
    {
        var source = RotatedTrain();
        var set = source.Images;
        // Every image of every view, rotated independently with torch.rot90, identifies (view, drawing) by its exact pixels.
        var lookup = new Dictionary<string, (ClassView View, int Drawing)>();
        foreach (var view in source.Views)
            for (int d = 0; d < set.ImageCount(view.BaseClass); d++)
                lookup.Add(Key(Rot90(set.Image(view.BaseClass, d), 28, view.QuarterTurns)), (view, d));

        var spec = new EpisodeSpec(Ways: 4, Shots: 2, Queries: 2);
        for (ulong seed = 0; seed < 20; seed++)
        {
            using var e = source.Sample(spec, (long)seed, seed);
            Assert.Equal([0L, 0, 1, 1, 2, 2, 3, 3], e.SupportY.data<long>().ToArray());
            Assert.Equal([0L, 0, 1, 1, 2, 2, 3, 3], e.QueryY.data<long>().ToArray());

            var viewOfLabel = new ClassView[4];
            var drawingsOfLabel = Enumerable.Range(0, 4).Select(_ => new HashSet<int>()).ToArray();
            for (int i = 0; i < 8; i++)
            {
                var (view, drawing) = lookup[Key(Row(e.SupportX, i))];
                int label = i / 2;
                if (i % 2 == 0) viewOfLabel[label] = view;
                Assert.Equal(viewOfLabel[label], view);
                Assert.True(drawingsOfLabel[label].Add(drawing));
            }
            Assert.Equal(4, viewOfLabel.Distinct().Count());
            for (int i = 0; i < 8; i++)
            {
                var (view, drawing) = lookup[Key(Row(e.QueryX, i))];
                Assert.Equal(viewOfLabel[i / 2], view);
                Assert.True(drawingsOfLabel[i / 2].Add(drawing)); // query images are not support images
            }
        }
    }

    [Fact]
    public void RotatedViews_AreTorchRot90OfTheBasePixels()
    {
        // Random, asymmetric content so every rotation is distinguishable; a single 2-image class makes 1-shot
        // 1-query episodes use both images, in either order.
        var rng = new DeterministicRandom(3);
        var pixels = Enumerable.Range(0, 2 * 7 * 7).Select(_ => (float)rng.NextDouble()).ToArray();
        var set = new ImageClassSet(pixels, 7, 7, ["c"], [2]);
        var bases = new[] { set.Image(0, 0).ToArray(), set.Image(0, 1).ToArray() };
        for (int q = 0; q < 4; q++)
        {
            var source = new ClassEpisodeSource(set, [new ClassView(0, q)], "rot");
            using var e = source.Sample(new EpisodeSpec(1, 1, 1), 0, (ulong)q);
            var expected = bases.Select(b => Key(Rot90(b, 7, q))).ToHashSet();
            Assert.Equal(expected, new[] { Key(Row(e.SupportX, 0)), Key(Row(e.QueryX, 0)) }.ToHashSet());
        }
    }

    [Fact]
    public void Sample_SameSeedIsBitIdentical_DifferentSeedsDiffer()
    {
        var source = RotatedTrain();
        var spec = new EpisodeSpec(5, 1, 3);
        using var a = source.Sample(spec, 0, 123);
        using var b = source.Sample(spec, 0, 123);
        Assert.Equal(a.SupportX.data<float>().ToArray(), b.SupportX.data<float>().ToArray());
        Assert.Equal(a.QueryX.data<float>().ToArray(), b.QueryX.data<float>().ToArray());
        Assert.Equal(a.SupportY.data<long>().ToArray(), b.SupportY.data<long>().ToArray());
        Assert.Equal(a.QueryY.data<long>().ToArray(), b.QueryY.data<long>().ToArray());

        using var c = source.Sample(spec, 0, 124);
        Assert.NotEqual(a.SupportX.data<float>().ToArray(), c.SupportX.data<float>().ToArray());
    }

    [Fact]
    public void Validate_MoreWaysThanClasses_SaysHowManyThereAre()
    {
        var set = new ImageClassSet(new float[3 * 4 * 4], 2, 2, ["a", "b", "c"], [4, 4, 4]);
        var source = new ClassEpisodeSource(set, ClassView.For([0, 1, 2], rotate: false), "tiny");
        var e = Assert.Throws<ArgumentException>(() => source.Validate(new EpisodeSpec(5, 1, 1)));
        Assert.Contains("5-way episodes need 5 classes but tiny has 3", e.Message);
        Assert.Contains("lower --ways", e.Message);
        Assert.Throws<ArgumentException>(() => source.Sample(new EpisodeSpec(5, 1, 1), 0, 0));
    }

    [Fact]
    public void Validate_ClassWithFewerImagesThanShotsPlusQueries_NamesTheClassAndItsCount()
    {
        var set = new ImageClassSet(new float[(5 + 2 + 5) * 4], 2, 2, ["big", "small", "other"], [5, 2, 5]);
        var source = new ClassEpisodeSource(set, ClassView.For([0, 1, 2], rotate: false), "tiny");
        source.Validate(new EpisodeSpec(3, 1, 1));
        var e = Assert.Throws<ArgumentException>(() => source.Validate(new EpisodeSpec(2, 1, 2)));
        Assert.Contains("need 3 images per class", e.Message);
        Assert.Contains("'small'", e.Message);
        Assert.Contains("has 2", e.Message);
    }

    [Fact]
    public void Constructor_RejectsNinetyDegreeTurnsOfNonSquareImages()
    {
        var set = new ImageClassSet(new float[2 * 6], 2, 3, ["a"], [2]);
        var e = Assert.Throws<ArgumentException>(() => new ClassEpisodeSource(set, [new ClassView(0, 1)], "wide"));
        Assert.Contains("square", e.Message);
    }
}
