using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Federated;

/// <summary>
/// A resumable snapshot of a federated run: θ, the server optimizer's state, the completed rounds, the config and
/// the participation log. The file layout follows <see cref="Checkpoint"/>'s with its own marker — "METAFEDC", int32
/// version, int32 header length, UTF-8 JSON header, float32 θ, float32 optimizer vectors, SHA-256 — and is written
/// atomically by <see cref="Checkpoint.WriteFile"/>.
/// </summary>
public sealed record FederatedCheckpoint(FederatedConfig Config, long Round, ParameterSet Theta, OptimizerState Optimizer, IReadOnlyList<ParticipationRecord> Participation)
{
    public const int FormatVersion = 1;
    public const string FileName = "federated.mcc";
    private static readonly byte[] Magic = "METAFEDC"u8.ToArray();
    private const int HashLength = 32;

    private static readonly JsonSerializerOptions JsonOptions = new() { Converters = { new JsonStringEnumConverter() } };

    private sealed record Header(FederatedConfig Config, long Round, string[] Names, long[][] Shapes,
        string Optimizer, long OptimizerStep, string[] VectorNames, int[] VectorLengths, ParticipationRecord[] Participation);

    public void Save(string path) => Checkpoint.WriteFile(path, ToBytes());

    public byte[] ToBytes()
    {
        var vectors = Optimizer.Vectors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        var header = new Header(Config, Round, Theta.Layout.Parameters.Select(p => p.Name).ToArray(), Theta.Layout.Parameters.Select(p => p.Shape).ToArray(),
            Optimizer.Optimizer, Optimizer.Step, vectors.Select(v => v.Key).ToArray(), vectors.Select(v => v.Value.Length).ToArray(), Participation.ToArray());
        byte[] headerBytes = JsonSerializer.SerializeToUtf8Bytes(header, JsonOptions);
        using var body = new MemoryStream();
        body.Write(Magic);
        Span<byte> int32 = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(int32, FormatVersion);
        body.Write(int32);
        BinaryPrimitives.WriteInt32LittleEndian(int32, headerBytes.Length);
        body.Write(int32);
        body.Write(headerBytes);
        body.Write(MemoryMarshal.AsBytes(Theta.Span));
        foreach (var (_, values) in vectors) body.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        body.Write(SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length)));
        return body.ToArray();
    }

    public static FederatedCheckpoint Load(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"no federated checkpoint at {path}; pass the {FileName} written by 'metacluster federated simulate'.");
        return FromBytes(File.ReadAllBytes(path), path);
    }

    public static FederatedCheckpoint FromBytes(byte[] bytes, string path = "the checkpoint")
    {
        if (bytes.Length < Magic.Length + 8 + HashLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException($"{path} is not a MetaCluster federated checkpoint (it does not start with the METAFEDC marker); 'metacluster evaluate' reads train's checkpoint.mcc.");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version != FormatVersion)
            throw new CheckpointException($"{path} has federated checkpoint format version {version}; this build reads version {FormatVersion}.");
        if (!SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashLength)).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashLength)))
            throw new CheckpointException($"{path} is corrupt or truncated: its checksum does not match its contents; use an earlier checkpoint.");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (headerLength < 2 || 16L + headerLength + HashLength > bytes.Length)
            throw new CheckpointException($"{path} is corrupt: its header claims {headerLength} bytes but the file has {bytes.Length}.");
        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(16, headerLength), JsonOptions) ?? throw new CheckpointException($"{path} has an empty header.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is corrupt: its header is not valid ({e.Message}).");
        }
        var layout = new ParameterLayout(header.Names.Zip(header.Shapes));
        long expected = 16L + headerLength + 4L * (layout.TotalCount + header.VectorLengths.Sum(l => (long)l)) + HashLength;
        if (bytes.Length != expected)
            throw new CheckpointException($"{path} is corrupt: {bytes.Length} bytes where {expected} are expected.");
        int offset = 16 + headerLength;
        float[] Read(int count)
        {
            var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset, 4 * count)).ToArray();
            offset += 4 * count;
            return values;
        }
        var theta = new ParameterSet(layout, Read(layout.TotalCount));
        var vectors = header.VectorNames.Zip(header.VectorLengths).ToDictionary(v => v.First, v => Read(v.Second));
        return new FederatedCheckpoint(header.Config, header.Round, theta, new OptimizerState(header.Optimizer, header.OptimizerStep, vectors), header.Participation);
    }
}
