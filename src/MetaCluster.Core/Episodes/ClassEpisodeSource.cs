using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// N-way K-shot image classification episodes over a set of class views (shared by Omniglot and image folders).
/// An episode draws N distinct classes, then K + Q distinct images of each: the first K are support, the next Q
/// query. Labels are 0..N-1 in the order the classes were drawn, and both sets are class-major (class 0's images,
/// then class 1's, …). Inputs are float32 [n, C, H, W] in [0, 1] (C = 1 for grayscale, 3 for mini-ImageNet's RGB),
/// labels int64 [n]. Rotations are applied while copying (each channel plane alike), so a rotated class costs no memory.
/// </summary>
public sealed class ClassEpisodeSource : IEpisodeSource
{
    private readonly ImageClassSet _images;
    private readonly ClassView[] _views;
    // The last spec that passed validation: Validate scans every class, too much to repeat for each episode.
    private volatile EpisodeSpec? _validated;

    public ClassEpisodeSource(ImageClassSet images, IReadOnlyList<ClassView> views, string name)
    {
        foreach (var v in views)
        {
            if ((uint)v.BaseClass >= (uint)images.ClassCount)
                throw new ArgumentException($"class view {v} refers to class {v.BaseClass} but the image set has {images.ClassCount} classes.");
            if ((uint)v.QuarterTurns > 3)
                throw new ArgumentException($"class view {v}: quarter turns must be 0, 1, 2 or 3.");
            if (v.QuarterTurns % 2 == 1 && images.Height != images.Width)
                throw new ArgumentException($"rotating by 90° needs square images but these are {images.Height}×{images.Width}; turn rotation off.");
        }
        _images = images;
        _views = [.. views];
        Name = name;
        InputShape = [images.Channels, images.Height, images.Width];
    }

    public string Name { get; }
    public TaskKind Kind => TaskKind.Classification;
    public IReadOnlyList<long> InputShape { get; }

    /// <summary>Number of classes episodes draw from (base classes × rotations).</summary>
    public int ClassCount => _views.Length;
    public IReadOnlyList<ClassView> Views => _views;
    public ImageClassSet Images => _images;

    public void Validate(EpisodeSpec spec)
    {
        spec.Validate();
        if (spec.Ways > _views.Length)
            throw new ArgumentException(
                $"{spec.Ways}-way episodes need {spec.Ways} classes but {Name} has {_views.Length}; lower --ways or add classes.");
        int needed = spec.Shots + spec.Queries;
        var shortClasses = _views.Select(v => v.BaseClass).Distinct().Where(c => _images.ImageCount(c) < needed).ToList();
        if (shortClasses.Count > 0)
        {
            int worst = shortClasses.MinBy(_images.ImageCount);
            string others = shortClasses.Count > 1 ? $" ({shortClasses.Count} classes have fewer than {needed})" : "";
            throw new ArgumentException(
                $"{spec.Shots}-shot, {spec.Queries}-query episodes need {needed} images per class but class " +
                $"'{_images.ClassNames[worst]}' in {Name} has {_images.ImageCount(worst)}{others}; " +
                "lower --shots or --queries, or add images to that class.");
        }
    }

    public Episode Sample(EpisodeSpec spec, long index, ulong seed)
    {
        if (!Equals(_validated, spec))
        {
            Validate(spec);
            _validated = spec;
        }
        var rng = new DeterministicRandom(seed);
        int ways = spec.Ways, shots = spec.Shots, queries = spec.Queries;
        int size = _images.ValuesPerImage;
        long c = _images.Channels, h = _images.Height, w = _images.Width;
        // The pixels go straight into libtorch-owned tensors (see TensorData.Writable).
        var supportX = empty([ways * shots, c, h, w], ScalarType.Float32);
        var queryX = empty([ways * queries, c, h, w], ScalarType.Float32);
        var supportPixels = TensorData.Writable(supportX);
        var queryPixels = TensorData.Writable(queryX);
        var supportY = new long[ways * shots];
        var queryY = new long[ways * queries];

        int[] classes = rng.SampleWithoutReplacement(_views.Length, ways);
        for (int label = 0; label < ways; label++)
        {
            var view = _views[classes[label]];
            int[] picks = rng.SampleWithoutReplacement(_images.ImageCount(view.BaseClass), shots + queries);
            for (int k = 0; k < shots + queries; k++)
            {
                bool support = k < shots;
                int slot = support ? label * shots + k : label * queries + (k - shots);
                CopyView(view, picks[k], (support ? supportPixels : queryPixels).Slice(slot * size, size));
                (support ? supportY : queryY)[slot] = label;
            }
        }

        return new Episode(index, TaskKind.Classification, ways,
            supportX, tensor(supportY, [ways * shots]), queryX, tensor(queryY, [ways * queries]));
    }

    /// <summary>Image <paramref name="image"/> of the view's base class as floats, turned as the view says.</summary>
    internal void CopyView(ClassView view, int image, Span<float> target)
    {
        if (view.QuarterTurns == 0)
        {
            _images.CopyImage(view.BaseClass, image, target);
            return;
        }
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(_images.ValuesPerImage);
        try
        {
            var unturned = buffer.AsSpan(0, _images.ValuesPerImage);
            _images.CopyImage(view.BaseClass, image, unturned);
            CopyRotated(unturned, target, view.QuarterTurns);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Rotates counter-clockwise like numpy.rot90 / torch.rot90(x, k, dims: (H, W)): one quarter turn maps
    /// out[i, j] = in[j, n-1-i], each channel plane alike. Odd turns are only allowed for square images (checked in the constructor).
    /// </summary>
    internal void CopyRotated(ReadOnlySpan<float> src, Span<float> dst, int quarterTurns)
    {
        if (quarterTurns == 0)
        {
            src.CopyTo(dst);
            return;
        }
        int h = _images.Height, w = _images.Width, plane = h * w;
        for (int c = 0; c < src.Length / plane; c++)
        {
            var s = src.Slice(c * plane, plane);
            var d = dst.Slice(c * plane, plane);
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    d[i * w + j] = quarterTurns switch
                    {
                        1 => s[j * w + (w - 1 - i)],
                        2 => s[(h - 1 - i) * w + (w - 1 - j)],
                        _ => s[(h - 1 - j) * w + i],
                    };
        }
    }
}
