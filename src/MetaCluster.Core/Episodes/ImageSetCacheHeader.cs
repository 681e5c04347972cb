using System.Text;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// The header an image-set cache file (<see cref="CacheFile"/>) carries in front of its pixels: key (32 bytes), the
/// image dimensions (int32 each: height, width for Omniglot's float32 planes; channels, height, width for
/// mini-ImageNet's 8-bit RGB), class count, image count (int32 each), then per class its image count (int32) and name
/// (length-prefixed UTF-8, as BinaryWriter writes strings).
/// </summary>
internal sealed record ImageSetCacheHeader(int[] Dimensions, string[] Names, int[] Counts)
{
    private const int KeyLength = 32;

    /// <summary>The shortest valid header: the key and every int32 before the per-class entries.</summary>
    public static int MinLength(int dimensionCount) => KeyLength + sizeof(int) * (dimensionCount + 2);

    /// <summary>Values (pixels, or bytes) the payload holds: images × the product of the dimensions.</summary>
    public long ValueCount => Dimensions.Aggregate((long)Counts.Sum(c => (long)c), (product, d) => product * d);

    public static byte[] Write(byte[] key, ReadOnlySpan<int> dimensions, ImageClassSet set)
    {
        var header = new MemoryStream();
        using (var writer = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(key);
            foreach (int d in dimensions) writer.Write(d);
            writer.Write(set.ClassCount);
            writer.Write(set.TotalImages);
            for (int c = 0; c < set.ClassCount; c++)
            {
                writer.Write(set.ImageCount(c));
                writer.Write(set.ClassNames[c]);
            }
        }
        return header.ToArray();
    }

    /// <summary>
    /// The header when it carries <paramref name="key"/> and its counts fit the <paramref name="payloadLength"/> bytes the
    /// file holds at <paramref name="bytesPerValue"/> each; otherwise null (a miss).
    /// </summary>
    public static ImageSetCacheHeader? Read(BinaryReader reader, byte[] key, int dimensionCount, long payloadLength, int bytesPerValue)
    {
        if (!reader.ReadBytes(KeyLength).AsSpan().SequenceEqual(key)) return null;
        var dimensions = new int[dimensionCount];
        for (int d = 0; d < dimensionCount; d++) dimensions[d] = reader.ReadInt32();
        int classCount = reader.ReadInt32(), imageCount = reader.ReadInt32();
        if (dimensions.Any(d => d < 1) || classCount < 0 || imageCount < 0) return null;
        long valueCount = dimensions.Aggregate((long)imageCount, (product, d) => product * d);
        // Check the length before allocating, so a damaged count cannot ask for gigabytes.
        if (payloadLength != valueCount * bytesPerValue) return null;
        var names = new string[classCount];
        var counts = new int[classCount];
        for (int c = 0; c < classCount; c++)
        {
            counts[c] = reader.ReadInt32();
            names[c] = reader.ReadString();
        }
        if (counts.Sum(c => (long)c) != imageCount) return null;
        return new ImageSetCacheHeader(dimensions, names, counts);
    }
}
