namespace MetaCluster.Core.Episodes;

/// <summary>
/// The decoded mini-ImageNet images in one binary file, so later runs skip JPEG decoding and resizing (60,000 images,
/// minutes of decoding, become one ~1.3 GB read). Stored as 8-bit RGB — the decoded values are bytes already, and
/// floats would take 5 GB — and converted to [0, 1] floats per episode. Like <see cref="OmniglotCache"/>: the file is
/// named by a key (see <see cref="MiniImageNetDataset"/>: the split files' bytes and every listed image's path and
/// size), a damaged file fails its magic, length or SHA-256 checks and is rebuilt, and writes go to a temp file moved
/// over the target so concurrent runs never read half a cache (framing: <see cref="CacheFile"/>; header:
/// <see cref="ImageSetCacheHeader"/>).
/// </summary>
/// <remarks>
/// Layout, little-endian: "MCMINIv1" magic (8 bytes), header length (int32), header, values (bytes), SHA-256 of
/// header + values (32 bytes). Header: key (32 bytes), channels, height, width, class count, image count (int32 each),
/// then per class its image count (int32) and name (length-prefixed UTF-8, as BinaryWriter writes strings).
/// </remarks>
public static class MiniImageNetCache
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "MCMINIv1"u8.ToArray();

    /// <summary>The file for a key under a cache directory (<see cref="OmniglotCache.DefaultDirectory"/> when null).</summary>
    public static string PathFor(byte[] key, int size, string? cacheDirectory) =>
        Path.Combine(cacheDirectory ?? OmniglotCache.DefaultDirectory,
            $"mini-imagenet-v{FormatVersion}-{size}x{size}-{Convert.ToHexStringLower(key)[..16]}.bin");

    /// <summary>The cached set, or null when the file is missing, from another key, or damaged.</summary>
    public static ImageClassSet? TryRead(string path, byte[] key) =>
        CacheFile.TryRead(path, Magic, ImageSetCacheHeader.MinLength(3), (header, payloadLength, readPayload) =>
        {
            if (ImageSetCacheHeader.Read(header, key, 3, payloadLength, sizeof(byte)) is not { } h) return null;
            var values = new byte[h.ValueCount];
            if (!readPayload(values)) return null;
            return ImageClassSet.FromBytes(values, h.Dimensions[0], h.Dimensions[1], h.Dimensions[2], h.Names, h.Counts);
        });

    /// <summary>Writes the set atomically; a cache that cannot be written only costs the next run its decode time.</summary>
    public static void TryWrite(string path, byte[] key, ImageClassSet set)
    {
        var values = set.Bytes ?? throw new ArgumentException("the mini-ImageNet cache stores 8-bit image sets.");
        var payload = values.AsSpan(0, checked((int)((long)set.TotalImages * set.ValuesPerImage)));
        CacheFile.TryWrite(path, Magic, ImageSetCacheHeader.Write(key, [set.Channels, set.Height, set.Width], set), payload);
    }
}
