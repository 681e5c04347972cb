using System.Text.Json;
using System.Text.Json.Serialization;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Federated;

/// <summary>
/// A resumable snapshot of a federated run: θ, the server optimizer's state, the completed rounds, the config, the
/// participation log and the run's training seconds (as <see cref="Checkpoint.TrainingSeconds"/>: the wall time of the
/// rounds that made θ, every resume adding its own; null in a file from before they were kept, or resumed from one).
/// The file layout follows <see cref="Checkpoint"/>'s with its own marker — "METAFEDC", int32 version, int32 header
/// length, UTF-8 JSON header, float32 θ, float32 optimizer vectors, SHA-256 — and is written atomically by
/// <see cref="Checkpoint.WriteFile"/>; the framing is <see cref="CheckpointFraming"/>'s.
/// </summary>
public sealed record FederatedCheckpoint(FederatedConfig Config, long Round, ParameterSet Theta, OptimizerState Optimizer, IReadOnlyList<ParticipationRecord> Participation,
    double? TrainingSeconds = null)
{
    public const int FormatVersion = 1;
    public const string FileName = "federated.mcc";
    private static readonly byte[] Magic = "METAFEDC"u8.ToArray();
    private const int HashLength = CheckpointFraming.HashLength;

    private static readonly JsonSerializerOptions JsonOptions = new() { Converters = { new JsonStringEnumConverter() } };

    private sealed record Header(FederatedConfig Config, long Round, string[] Names, long[][] Shapes,
        string Optimizer, long OptimizerStep, string[] VectorNames, int[] VectorLengths, ParticipationRecord[] Participation,
        double? TrainingSeconds = null);

    public void Save(string path) => Checkpoint.WriteFile(path, ToBytes());

    public byte[] ToBytes()
    {
        var vectors = CheckpointFraming.OrderedVectors(Optimizer);
        var header = new Header(Config, Round, CheckpointFraming.Names(Theta.Layout), CheckpointFraming.Shapes(Theta.Layout),
            Optimizer.Optimizer, Optimizer.Step, vectors.Select(v => v.Key).ToArray(), vectors.Select(v => v.Value.Length).ToArray(), Participation.ToArray(),
            TrainingSeconds);
        return CheckpointFraming.Write(Magic, FormatVersion, JsonSerializer.SerializeToUtf8Bytes(header, JsonOptions), Theta.Span, vectors);
    }

    public static FederatedCheckpoint Load(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"no federated checkpoint at {path}; pass the {FileName} written by 'metacluster federated simulate'.");
        return FromBytes(File.ReadAllBytes(path), path);
    }

    public static FederatedCheckpoint FromBytes(byte[] bytes, string path = "the checkpoint")
    {
        if (bytes.Length < Magic.Length + 8 + HashLength || !CheckpointFraming.StartsWith(bytes, Magic))
            throw new CheckpointException($"{path} is not a MetaCluster federated checkpoint (it does not start with the METAFEDC marker); 'metacluster evaluate' reads train's checkpoint.mcc.");
        int version = CheckpointFraming.Version(bytes);
        if (version != FormatVersion)
            throw new CheckpointException($"{path} has federated checkpoint format version {version}; this build reads version {FormatVersion}.");
        if (!CheckpointFraming.ChecksumMatches(bytes))
            throw new CheckpointException($"{path} is corrupt or truncated: its checksum does not match its contents; use an earlier checkpoint.");
        int headerLength = CheckpointFraming.HeaderLength(bytes);
        if (!CheckpointFraming.HeaderFits(bytes, headerLength))
            throw new CheckpointException($"{path} is corrupt: its header claims {headerLength} bytes but the file has {bytes.Length}.");
        var header = CheckpointFraming.ReadHeader<Header>(bytes, headerLength, JsonOptions, path);
        var layout = new ParameterLayout(header.Names.Zip(header.Shapes));
        long expected = CheckpointFraming.ExpectedLength(headerLength, layout, header.VectorLengths);
        if (bytes.Length != expected)
            throw new CheckpointException($"{path} is corrupt: {bytes.Length} bytes where {expected} are expected.");
        var (theta, vectors) = CheckpointFraming.ReadValues(bytes, headerLength, layout, header.VectorNames, header.VectorLengths);
        return new FederatedCheckpoint(header.Config, header.Round, theta, new OptimizerState(header.Optimizer, header.OptimizerStep, vectors), header.Participation,
            header.TrainingSeconds);
    }
}
