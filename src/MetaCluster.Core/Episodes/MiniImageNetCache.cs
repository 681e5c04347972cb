using System.Security.Cryptography;
using System.Text;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// The decoded mini-ImageNet images in one binary file, so later runs skip JPEG decoding and resizing (60,000 images,
/// minutes of decoding, become one ~1.3 GB read). Stored as 8-bit RGB — the decoded values are bytes already, and
/// floats would take 5 GB — and converted to [0, 1] floats per episode. Like <see cref="OmniglotCache"/>: the file is
/// named by a key (see <see cref="MiniImageNetDataset"/>: the split files' bytes and every listed image's path and
/// size), a damaged file fails its magic, length or SHA-256 checks and is rebuilt, and writes go to a temp file moved
/// over the target so concurrent runs never read half a cache.
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
    public static ImageClassSet? TryRead(string path, byte[] key)
    {
        try
        {
            if (!File.Exists(path)) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var prefix = new byte[Magic.Length + 4];
            stream.ReadExactly(prefix);
            if (!prefix.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
            int headerLength = BitConverter.ToInt32(prefix, Magic.Length);
            if (headerLength < 52 || headerLength > stream.Length) return null;
            var header = new byte[headerLength];
            stream.ReadExactly(header);

            using var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
            if (!reader.ReadBytes(32).AsSpan().SequenceEqual(key)) return null;
            int channels = reader.ReadInt32(), height = reader.ReadInt32(), width = reader.ReadInt32();
            int classCount = reader.ReadInt32(), imageCount = reader.ReadInt32();
            if (channels < 1 || height < 1 || width < 1 || classCount < 0 || imageCount < 0) return null;
            long valueCount = (long)imageCount * channels * height * width;
            // Check the length before allocating, so a damaged count cannot ask for gigabytes.
            if (stream.Length != prefix.Length + headerLength + valueCount + 32) return null;
            var names = new string[classCount];
            var counts = new int[classCount];
            for (int c = 0; c < classCount; c++)
            {
                counts[c] = reader.ReadInt32();
                names[c] = reader.ReadString();
            }
            if (counts.Sum(c => (long)c) != imageCount) return null;

            var values = new byte[valueCount];
            stream.ReadExactly(values);
            var stored = new byte[32];
            stream.ReadExactly(stored);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(header);
            hash.AppendData(values);
            if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored)) return null;
            return ImageClassSet.FromBytes(values, channels, height, width, names, counts);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or UnauthorizedAccessException or ArgumentException or OutOfMemoryException)
        {
            // Unreadable or inconsistent: treat as a miss and rebuild.
            return null;
        }
    }

    /// <summary>Writes the set atomically; a cache that cannot be written only costs the next run its decode time.</summary>
    public static void TryWrite(string path, byte[] key, ImageClassSet set)
    {
        var values = set.Bytes ?? throw new ArgumentException("the mini-ImageNet cache stores 8-bit image sets.");
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var headerStream = new MemoryStream();
            using (var writer = new BinaryWriter(headerStream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(key);
                writer.Write(set.Channels);
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
            var payload = values.AsSpan(0, checked((int)((long)set.TotalImages * set.ValuesPerImage)));
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(header);
            hash.AppendData(payload);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(Magic);
                stream.Write(BitConverter.GetBytes(header.Length));
                stream.Write(header);
                stream.Write(payload);
                stream.Write(hash.GetHashAndReset());
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
        }
    }
}
