namespace MetaCluster.Core.Episodes;

/// <summary>
/// Grayscale images grouped by class, all in one flat array so a whole dataset is a single allocation that can be
/// cached and read back with one stream read. Values are in [0, 1] with strokes (ink) = 1 and background = 0.
/// A class's images are contiguous: image i of class c starts at <c>(FirstImage(c) + i) * PixelsPerImage</c>.
/// </summary>
public sealed class ImageClassSet
{
    private readonly int[] _firstImage;
    private readonly int[] _imageCount;
    private readonly string[] _names;

    /// <summary>
    /// Images stored class after class: the first <c>imageCounts[0]</c> images belong to class 0, and so on.
    /// </summary>
    public ImageClassSet(float[] pixels, int height, int width, IReadOnlyList<string> classNames, IReadOnlyList<int> imageCounts)
        : this(pixels, height, width, [.. classNames], [.. imageCounts], Offsets(imageCounts))
    {
        long expected = (long)TotalImages * height * width;
        if (pixels.LongLength != expected)
            throw new ArgumentException($"{TotalImages} images of {height}×{width} need {expected} pixels but {pixels.LongLength} were given.");
    }

    private ImageClassSet(float[] pixels, int height, int width, string[] names, int[] counts, int[] firstImage)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"image size must be positive (got {height}×{width}).");
        if (names.Length != counts.Length)
            throw new ArgumentException($"{names.Length} class names but {counts.Length} image counts.");
        if (counts.Any(c => c < 0)) throw new ArgumentException("image counts cannot be negative.");
        Pixels = pixels;
        Height = height;
        Width = width;
        _names = names;
        _imageCount = counts;
        _firstImage = firstImage;
    }

    /// <summary>All pixels, row-major per image. A subset shares its parent's array, so it may hold other classes too.</summary>
    public float[] Pixels { get; }
    public int Height { get; }
    public int Width { get; }
    public int PixelsPerImage => Height * Width;
    public int ClassCount => _names.Length;
    public IReadOnlyList<string> ClassNames => _names;
    public int TotalImages => _imageCount.Sum();

    public int ImageCount(int classIndex) => _imageCount[classIndex];

    /// <summary>Position, counted in images, of the class's first image in <see cref="Pixels"/>.</summary>
    public int FirstImage(int classIndex) => _firstImage[classIndex];

    public ReadOnlySpan<float> Image(int classIndex, int imageIndex)
    {
        if ((uint)imageIndex >= (uint)_imageCount[classIndex])
            throw new ArgumentOutOfRangeException(nameof(imageIndex), $"class '{_names[classIndex]}' has {_imageCount[classIndex]} images.");
        return Pixels.AsSpan((_firstImage[classIndex] + imageIndex) * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>The given classes, in the given order, sharing this set's pixels (nothing is copied).</summary>
    public ImageClassSet Subset(IEnumerable<int> classIndices)
    {
        int[] picked = [.. classIndices];
        foreach (int c in picked)
            if ((uint)c >= (uint)ClassCount) throw new ArgumentOutOfRangeException(nameof(classIndices), $"class {c} is not in 0..{ClassCount - 1}.");
        return new ImageClassSet(Pixels, Height, Width,
            [.. picked.Select(c => _names[c])], [.. picked.Select(c => _imageCount[c])], [.. picked.Select(c => _firstImage[c])]);
    }

    private static int[] Offsets(IReadOnlyList<int> counts)
    {
        var first = new int[counts.Count];
        int next = 0;
        for (int i = 0; i < counts.Count; i++)
        {
            first[i] = next;
            next = checked(next + counts[i]);
        }
        return first;
    }
}
