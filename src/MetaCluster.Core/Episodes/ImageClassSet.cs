namespace MetaCluster.Core.Episodes;

/// <summary>
/// Images grouped by class, all in one flat array so a whole dataset is a single allocation that can be
/// cached and read back with one stream read. Either grayscale float32 in [0, 1] (Omniglot, image folders: strokes
/// (ink) = 1 and background = 0), or 8-bit values of <see cref="Channels"/> planes (mini-ImageNet's RGB: 60,000 images
/// would take 5 GB as floats, 1.27 GB as bytes), converted to [0, 1] floats only when an episode copies them.
/// A class's images are contiguous: image i of class c starts at <c>(FirstImage(c) + i) * ValuesPerImage</c>, each
/// image stored channel-major (C, H, W) as the NCHW tensors episodes build.
/// </summary>
public sealed class ImageClassSet
{
    private readonly int[] _firstImage;
    private readonly int[] _imageCount;
    private readonly string[] _names;
    private readonly float[]? _floats;
    private readonly byte[]? _bytes;

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

    /// <summary>
    /// 8-bit images of <paramref name="channels"/> planes each (C, H, W per image), stored class after class; a value v
    /// reads as v / 255.
    /// </summary>
    public static ImageClassSet FromBytes(byte[] values, int channels, int height, int width, IReadOnlyList<string> classNames, IReadOnlyList<int> imageCounts)
    {
        var set = new ImageClassSet(null, values, channels, height, width, [.. classNames], [.. imageCounts], Offsets(imageCounts));
        long expected = (long)set.TotalImages * set.ValuesPerImage;
        if (values.LongLength != expected)
            throw new ArgumentException($"{set.TotalImages} images of {channels}×{height}×{width} need {expected} values but {values.LongLength} were given.");
        return set;
    }

    private ImageClassSet(float[] pixels, int height, int width, string[] names, int[] counts, int[] firstImage)
        : this(pixels, null, 1, height, width, names, counts, firstImage)
    {
    }

    private ImageClassSet(float[]? floats, byte[]? bytes, int channels, int height, int width, string[] names, int[] counts, int[] firstImage)
    {
        if (height < 1 || width < 1) throw new ArgumentException($"image size must be positive (got {height}×{width}).");
        if (channels < 1) throw new ArgumentException($"images need at least one channel (got {channels}).");
        if (names.Length != counts.Length)
            throw new ArgumentException($"{names.Length} class names but {counts.Length} image counts.");
        if (counts.Any(c => c < 0)) throw new ArgumentException("image counts cannot be negative.");
        _floats = floats;
        _bytes = bytes;
        Channels = channels;
        Height = height;
        Width = width;
        _names = names;
        _imageCount = counts;
        _firstImage = firstImage;
    }

    /// <summary>All pixels of a float set, row-major per image. A subset shares its parent's array, so it may hold other classes too.</summary>
    public float[] Pixels => _floats ?? throw new InvalidOperationException(
        "this image set stores 8-bit values (Bytes), not floats; copy images out with CopyImage.");

    /// <summary>All values of an 8-bit set (null for a float set), (C, H, W) per image; shared with subsets like <see cref="Pixels"/>.</summary>
    public byte[]? Bytes => _bytes;

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    /// <summary>Pixels of one plane (H × W).</summary>
    public int PixelsPerImage => Height * Width;
    /// <summary>Values of one image: channels × height × width.</summary>
    public int ValuesPerImage => Channels * Height * Width;
    public int ClassCount => _names.Length;
    public IReadOnlyList<string> ClassNames => _names;
    public int TotalImages => _imageCount.Sum();

    public int ImageCount(int classIndex) => _imageCount[classIndex];

    /// <summary>Position, counted in images, of the class's first image in <see cref="Pixels"/>.</summary>
    public int FirstImage(int classIndex) => _firstImage[classIndex];

    /// <summary>One image of a float set, without copying.</summary>
    public ReadOnlySpan<float> Image(int classIndex, int imageIndex) =>
        Pixels.AsSpan(checked((int)Start(classIndex, imageIndex)), ValuesPerImage);

    /// <summary>One image as floats in [0, 1] (an 8-bit value v becomes v / 255, as the MAML reference code scales).</summary>
    public void CopyImage(int classIndex, int imageIndex, Span<float> target)
    {
        long start = Start(classIndex, imageIndex);
        if (_floats is not null)
        {
            _floats.AsSpan(checked((int)start), ValuesPerImage).CopyTo(target);
            return;
        }
        var source = _bytes.AsSpan(checked((int)start), ValuesPerImage);
        for (int i = 0; i < source.Length; i++) target[i] = source[i] / 255f;
    }

    private long Start(int classIndex, int imageIndex)
    {
        if ((uint)imageIndex >= (uint)_imageCount[classIndex])
            throw new ArgumentOutOfRangeException(nameof(imageIndex), $"class '{_names[classIndex]}' has {_imageCount[classIndex]} images.");
        return ((long)_firstImage[classIndex] + imageIndex) * ValuesPerImage;
    }

    /// <summary>The given classes, in the given order, sharing this set's pixels (nothing is copied).</summary>
    public ImageClassSet Subset(IEnumerable<int> classIndices)
    {
        int[] picked = [.. classIndices];
        foreach (int c in picked)
            if ((uint)c >= (uint)ClassCount) throw new ArgumentOutOfRangeException(nameof(classIndices), $"class {c} is not in 0..{ClassCount - 1}.");
        return new ImageClassSet(_floats, _bytes, Channels, Height, Width,
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
