using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Tests;

/// <summary>
/// The decoded-image caches' files, byte for byte, against files built here by hand from the layouts their docs state
/// ("MCOMNIv1"/"MCMINIv1" magic, int32 header length, header, payload, SHA-256 of header + payload). Caches already on
/// users' disks must keep loading whatever the code that writes them looks like, so both directions are checked: what
/// the code writes equals the hand-built file, and a hand-built file (with a payload the code never wrote) is read as a hit.
/// </summary>
public sealed class CacheFileLayoutTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "mc-cache-layout-" + Guid.NewGuid().ToString("N"));

    public CacheFileLayoutTests() => Directory.CreateDirectory(_scratch);

    public void Dispose()
    {
        try { Directory.Delete(_scratch, recursive: true); } catch (IOException) { }
    }

    /// <summary>magic, int32 header length, header, payload, SHA-256(header + payload) — written without any project code.</summary>
    private static byte[] Framed(string magic, byte[] header, byte[] payload)
    {
        var file = new MemoryStream();
        file.Write(Encoding.ASCII.GetBytes(magic));
        file.Write(BitConverter.GetBytes(header.Length));
        file.Write(header);
        file.Write(payload);
        file.Write(SHA256.HashData([.. header, .. payload]));
        return file.ToArray();
    }

    /// <summary>
    /// key, the dimensions, class count, image count, then per class its count and name — the name as BinaryWriter
    /// writes a string: one length byte (the names here are under 128 bytes) and UTF-8.
    /// </summary>
    private static byte[] Header(byte[] key, int[] dims, ImageClassSet set)
    {
        var fields = new List<byte[]> { key };
        int[] counts = [.. dims, set.ClassCount, set.TotalImages];
        fields.AddRange(counts.Select(BitConverter.GetBytes));
        for (int c = 0; c < set.ClassCount; c++)
        {
            byte[] name = Encoding.UTF8.GetBytes(set.ClassNames[c]);
            Assert.InRange(name.Length, 1, 127);
            fields.Add(BitConverter.GetBytes(set.ImageCount(c)));
            fields.Add([(byte)name.Length, .. name]);
        }
        return [.. fields.SelectMany(f => f)];
    }

    /// <summary>
    /// The file a first load (a miss) wrote, and its key: right after the magic and the header length (it comes from
    /// the data's hashes, not the framing), and the start of the file's name.
    /// </summary>
    private static (byte[] File, byte[] Key) WrittenOnAMiss(bool hit, string path)
    {
        Assert.False(hit);
        byte[] written = File.ReadAllBytes(path);
        byte[] key = written[12..44];
        Assert.Contains(Convert.ToHexStringLower(key)[..16], Path.GetFileName(path));
        return (written, key);
    }

    [Fact]
    public void Omniglot_WritesTheDocumentedLayout_AndReadsAHandBuiltFile()
    {
        using var data = new TinyOmniglot();
        var options = new OmniglotOptions { TrainCharacters = 5, CacheDirectory = Path.Combine(_scratch, "omniglot"), ReuseLoaded = false };
        var miss = OmniglotDataset.Load(data.Dir, options);
        var (written, key) = WrittenOnAMiss(miss.CacheHit, miss.CachePath!);
        var set = miss.Characters;

        float[] pixels = set.Pixels[..(set.TotalImages * set.PixelsPerImage)];
        byte[] header = Header(key, [set.Height, set.Width], set);
        Assert.Equal(Framed("MCOMNIv1", header, MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray()), written);

        // A file the code never wrote, framed by hand around other pixels, is a hit that returns those pixels.
        pixels[0] = 0.25f;
        pixels[^1] = 0.75f;
        File.WriteAllBytes(miss.CachePath!, Framed("MCOMNIv1", header, MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray()));
        var hit = OmniglotDataset.Load(data.Dir, options);
        Assert.True(hit.CacheHit);
        Assert.Equal(pixels, hit.Characters.Pixels);
    }

    [Fact]
    public void MiniImageNet_WritesTheDocumentedLayout_AndReadsAHandBuiltFile()
    {
        using var data = new TinyMiniImageNet();
        var options = new MiniImageNetOptions { CacheDirectory = data.CacheDir, ReuseLoaded = false };
        var miss = MiniImageNetDataset.Load(data.Dir, options);
        var (written, key) = WrittenOnAMiss(miss.CacheHit, miss.CachePath!);
        var set = miss.Images;

        byte[] values = set.Bytes![..(set.TotalImages * set.ValuesPerImage)];
        byte[] header = Header(key, [set.Channels, set.Height, set.Width], set);
        Assert.Equal(Framed("MCMINIv1", header, values), written);

        values[0] = 201;
        values[^1] = 3;
        File.WriteAllBytes(miss.CachePath!, Framed("MCMINIv1", header, values));
        var hit = MiniImageNetDataset.Load(data.Dir, options);
        Assert.True(hit.CacheHit);
        Assert.Equal(values, hit.Images.Bytes);
    }
}
