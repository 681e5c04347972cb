using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// The decoded pixels of the Omniglot zips in one binary file, so later runs skip PNG decoding and resizing.
/// The file is named by a key — SHA-256 over the format version, the image size and the zips' names and bytes —
/// so new zips or a new size simply miss. Pixels are stored as float32 (area resizing yields fractions that 8 bits
/// could not hold exactly). A file that is truncated, altered or from another format fails its magic, length or
/// SHA-256 checks and is rebuilt from the zips. Writes go to a temp file that is then moved over the target, so
/// concurrent runs never read a half-written cache (the framing is <see cref="CacheFile"/>'s, the header
/// <see cref="ImageSetCacheHeader"/>'s).
/// </summary>
/// <remarks>
/// Layout, little-endian: "MCOMNIv1" magic (8 bytes), header length (int32), header, pixels (float32 × count),
/// SHA-256 of header + pixels (32 bytes). Header: key (32 bytes), height, width, class count, image count (int32
/// each), then per class its image count (int32) and name (length-prefixed UTF-8, as BinaryWriter writes strings).
/// </remarks>
public static class OmniglotCache
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "MCOMNIv1"u8.ToArray();

    /// <summary><c>$XDG_CACHE_HOME/metacluster</c>, or <c>~/.cache/metacluster</c> when XDG_CACHE_HOME is unset.</summary>
    public static string DefaultDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = string.IsNullOrEmpty(xdg)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
                : xdg;
            return Path.Combine(root, "metacluster");
        }
    }

    /// <summary>
    /// The zips' images from the cache when a valid entry exists, otherwise decoded from the zips and then cached.
    /// <paramref name="cachePath"/> is the file used; <paramref name="hit"/> says whether decoding was skipped.
    /// </summary>
    public static ImageClassSet Load(IReadOnlyList<string> zipPaths, int imageSize, string? cacheDirectory,
        out string cachePath, out bool hit)
    {
        byte[] key = Key(zipPaths, imageSize);
        cachePath = Path.Combine(cacheDirectory ?? DefaultDirectory,
            $"omniglot-v{FormatVersion}-{imageSize}x{imageSize}-{Convert.ToHexStringLower(key)[..16]}.bin");

        // The raw float copy below assumes little-endian; elsewhere we just decode every time.
        if (BitConverter.IsLittleEndian && TryRead(cachePath, key) is { } cached)
        {
            hit = true;
            return cached;
        }
        hit = false;
        var set = OmniglotArchive.Read(zipPaths, imageSize);
        if (BitConverter.IsLittleEndian) TryWrite(cachePath, key, set);
        return set;
    }

    private static byte[] Key(IReadOnlyList<string> zipPaths, int imageSize)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"omniglot-cache v{FormatVersion} size {imageSize}x{imageSize}\n"));
        foreach (string zip in zipPaths)
        {
            using var stream = File.OpenRead(zip);
            hash.AppendData(Encoding.UTF8.GetBytes($"{Path.GetFileName(zip)} {Convert.ToHexStringLower(SHA256.HashData(stream))}\n"));
        }
        return hash.GetHashAndReset();
    }

    private static ImageClassSet? TryRead(string path, byte[] key) =>
        CacheFile.TryRead(path, Magic, ImageSetCacheHeader.MinLength(2), (header, payloadLength, readPayload) =>
        {
            if (ImageSetCacheHeader.Read(header, key, 2, payloadLength, sizeof(float)) is not { } h) return null;
            var pixels = new float[h.ValueCount];
            if (!readPayload(MemoryMarshal.AsBytes(pixels.AsSpan()))) return null;
            return new ImageClassSet(pixels, h.Dimensions[0], h.Dimensions[1], h.Names, h.Counts);
        });

    private static void TryWrite(string path, byte[] key, ImageClassSet set) =>
        CacheFile.TryWrite(path, Magic, ImageSetCacheHeader.Write(key, [set.Height, set.Width], set),
            MemoryMarshal.AsBytes(set.Pixels.AsSpan(0, set.TotalImages * set.PixelsPerImage)));
}
