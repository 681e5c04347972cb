using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>
/// The file framing <see cref="Checkpoint"/> and <see cref="Federated.FederatedCheckpoint"/> share (little endian): an
/// 8-byte magic, int32 format version, int32 header length, the UTF-8 JSON header, float32 θ, the optimizer's float32
/// vectors in ordinal name order, and a SHA-256 of everything before it. Each kind keeps its own header record, checks
/// and error texts (which say what to do for that kind); what the bytes look like is written once, here.
/// </summary>
internal static class CheckpointFraming
{
    public const int HashLength = 32;

    /// <summary>Magic, version and header length: where the header starts.</summary>
    public const int PrefixLength = 16;

    /// <summary>The optimizer's vectors in the order the file holds them (and the header lists them).</summary>
    public static KeyValuePair<string, float[]>[] OrderedVectors(OptimizerState optimizer) =>
        optimizer.Vectors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();

    public static string[] Names(ParameterLayout layout) => layout.Parameters.Select(p => p.Name).ToArray();

    public static long[][] Shapes(ParameterLayout layout) => layout.Parameters.Select(p => p.Shape).ToArray();

    public static byte[] Write(ReadOnlySpan<byte> magic, int formatVersion, byte[] header, ReadOnlySpan<float> theta,
        IEnumerable<KeyValuePair<string, float[]>> orderedVectors)
    {
        using var body = new MemoryStream();
        body.Write(magic);
        Span<byte> int32 = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(int32, formatVersion);
        body.Write(int32);
        BinaryPrimitives.WriteInt32LittleEndian(int32, header.Length);
        body.Write(int32);
        body.Write(header);
        body.Write(MemoryMarshal.AsBytes(theta));
        foreach (var (_, values) in orderedVectors) body.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        body.Write(SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length)));
        return body.ToArray();
    }

    public static bool StartsWith(byte[] bytes, ReadOnlySpan<byte> magic) =>
        bytes.Length >= magic.Length && bytes.AsSpan(0, magic.Length).SequenceEqual(magic);

    public static int Version(byte[] bytes) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));

    public static int HeaderLength(byte[] bytes) => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));

    /// <summary>Whether the header length is plausible (at least "{}") and leaves room for the checksum.</summary>
    public static bool HeaderFits(byte[] bytes, int headerLength) =>
        headerLength >= 2 && PrefixLength + (long)headerLength + HashLength <= bytes.Length;

    /// <summary>The JSON header, or a <see cref="CheckpointException"/> naming <paramref name="path"/> when it does not parse.</summary>
    public static THeader ReadHeader<THeader>(byte[] bytes, int headerLength, JsonSerializerOptions? options, string path) where THeader : class
    {
        try
        {
            return JsonSerializer.Deserialize<THeader>(bytes.AsSpan(PrefixLength, headerLength), options)
                ?? throw new CheckpointException($"{path} has an empty header.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is corrupt: its header is not valid ({e.Message}).");
        }
    }

    public static bool ChecksumMatches(byte[] bytes) =>
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashLength)).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashLength));

    /// <summary>The file length the header's layout and vector lengths call for.</summary>
    public static long ExpectedLength(int headerLength, ParameterLayout layout, int[] vectorLengths) =>
        PrefixLength + headerLength + 4L * (layout.TotalCount + vectorLengths.Sum(l => (long)l)) + HashLength;

    /// <summary>θ and the optimizer vectors, read after the header of a file whose length has been checked.</summary>
    public static (ParameterSet Theta, Dictionary<string, float[]> Vectors) ReadValues(byte[] bytes, int headerLength,
        ParameterLayout layout, string[] vectorNames, int[] vectorLengths)
    {
        int offset = PrefixLength + headerLength;
        float[] Read(int count)
        {
            var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset, 4 * count)).ToArray();
            offset += 4 * count;
            return values;
        }
        var theta = new ParameterSet(layout, Read(layout.TotalCount));
        return (theta, vectorNames.Zip(vectorLengths).ToDictionary(v => v.First, v => Read(v.Second)));
    }
}
