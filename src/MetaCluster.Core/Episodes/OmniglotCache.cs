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
/// concurrent runs never read a half-written cache.
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

    private static ImageClassSet? TryRead(string path, byte[] key)
    {
        try
        {
            if (!File.Exists(path)) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var prefix = new byte[Magic.Length + 4];
            stream.ReadExactly(prefix);
            if (!prefix.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
            int headerLength = BitConverter.ToInt32(prefix, Magic.Length);
            if (headerLength < 48 || headerLength > stream.Length) return null;
            var header = new byte[headerLength];
            stream.ReadExactly(header);

            using var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
            if (!reader.ReadBytes(32).AsSpan().SequenceEqual(key)) return null;
            int height = reader.ReadInt32(), width = reader.ReadInt32(), classCount = reader.ReadInt32(), imageCount = reader.ReadInt32();
            if (height < 1 || width < 1 || classCount < 0 || imageCount < 0) return null;
            long pixelCount = (long)imageCount * height * width;
            // Check the length before allocating, so a damaged count cannot ask for gigabytes.
            if (stream.Length != prefix.Length + headerLength + pixelCount * sizeof(float) + 32) return null;
            var names = new string[classCount];
            var counts = new int[classCount];
            for (int c = 0; c < classCount; c++)
            {
                counts[c] = reader.ReadInt32();
                names[c] = reader.ReadString();
            }
            if (counts.Sum(c => (long)c) != imageCount) return null;

            var pixels = new float[pixelCount];
            var pixelBytes = MemoryMarshal.AsBytes(pixels.AsSpan());
            stream.ReadExactly(pixelBytes);
            var stored = new byte[32];
            stream.ReadExactly(stored);

            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(header);
            hash.AppendData(pixelBytes);
            if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored)) return null;
            return new ImageClassSet(pixels, height, width, names, counts);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or UnauthorizedAccessException or ArgumentException)
        {
            // Unreadable or inconsistent: treat as a miss and rebuild.
            return null;
        }
    }

    private static void TryWrite(string path, byte[] key, ImageClassSet set)
    {
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var headerStream = new MemoryStream();
            using (var writer = new BinaryWriter(headerStream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(key);
                writer.Write(set.Height);
                writer.Write(set.Width);
                writer.Write(set.ClassCount);
                writer.Write(set.TotalImages);
                for (int c = 0; c < set.ClassCount; c++)
                {
                    writer.Write(set.ImageCount(c));
                    writer.Write(set.ClassNames[c]);
                }
            }
            byte[] header = headerStream.ToArray();
            var pixelBytes = MemoryMarshal.AsBytes(set.Pixels.AsSpan(0, set.TotalImages * set.PixelsPerImage));

            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(header);
            hash.AppendData(pixelBytes);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(Magic);
                stream.Write(BitConverter.GetBytes(header.Length));
                stream.Write(header);
                stream.Write(pixelBytes);
                stream.Write(hash.GetHashAndReset());
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A cache we cannot write (read-only home, full disk) only costs the next run its decode time.
            try { File.Delete(temp); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
        }
    }
}
