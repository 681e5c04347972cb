using System.Security.Cryptography;
using System.Text;

namespace MetaCluster.Core.Episodes;

/// <summary>Fills <paramref name="destination"/> with the payload and says whether the file's SHA-256 matches.</summary>
internal delegate bool CachePayloadReader(Span<byte> destination);

/// <summary>
/// Parses a cache file's header and, when it is consistent with the <paramref name="payloadLength"/> bytes the file
/// holds, reads the payload through <paramref name="payload"/>; null for anything that does not fit (a miss).
/// </summary>
internal delegate T? CacheBodyReader<T>(BinaryReader header, long payloadLength, CachePayloadReader payload) where T : class;

/// <summary>
/// The framing every decoded-data cache shares, so a change to it (or a fix) happens once: magic, int32 header length,
/// header, payload, then SHA-256 of header + payload (32 bytes), little-endian. A cache is only ever a shortcut, so
/// nothing here throws for a bad or unwritable file: a file that is missing, truncated, altered or of another format
/// reads as null (the caller rebuilds it), and a write that fails leaves no temp file and costs only the next run's
/// decode time. Writes go to a temp file that is then moved over the target, so concurrent runs never read half a cache.
/// </summary>
internal static class CacheFile
{
    private const int HashLength = 32;

    /// <summary>
    /// The file's contents when its magic, header length (at least <paramref name="minHeaderLength"/>) and checksum hold
    /// and <paramref name="readBody"/> accepts its header; otherwise null.
    /// </summary>
    public static T? TryRead<T>(string path, ReadOnlySpan<byte> magic, int minHeaderLength, CacheBodyReader<T> readBody) where T : class
    {
        try
        {
            if (!File.Exists(path)) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var prefix = new byte[magic.Length + 4];
            stream.ReadExactly(prefix);
            if (!prefix.AsSpan(0, magic.Length).SequenceEqual(magic)) return null;
            int headerLength = BitConverter.ToInt32(prefix, magic.Length);
            if (headerLength < minHeaderLength || headerLength > stream.Length) return null;
            var header = new byte[headerLength];
            stream.ReadExactly(header);

            bool ReadPayload(Span<byte> destination)
            {
                stream.ReadExactly(destination);
                var stored = new byte[HashLength];
                stream.ReadExactly(stored);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                hash.AppendData(header);
                hash.AppendData(destination);
                return hash.GetHashAndReset().AsSpan().SequenceEqual(stored);
            }

            using var reader = new BinaryReader(new MemoryStream(header), Encoding.UTF8);
            return readBody(reader, stream.Length - prefix.Length - headerLength - HashLength, ReadPayload);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or UnauthorizedAccessException or ArgumentException or OutOfMemoryException)
        {
            // Unreadable or inconsistent: treat as a miss and rebuild.
            return null;
        }
    }

    /// <summary>Writes the framed file atomically; a cache we cannot write (read-only home, full disk) is skipped.</summary>
    public static void TryWrite(string path, ReadOnlySpan<byte> magic, byte[] header, ReadOnlySpan<byte> payload)
    {
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData(header);
            hash.AppendData(payload);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(magic);
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
