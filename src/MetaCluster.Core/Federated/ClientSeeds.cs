using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Federated;

/// <summary>
/// Where a federated run's randomness comes from. A client's episodes depend only on (run seed, round, client id), so
/// a simulated client and the same client in its own process draw the same episodes. The id enters through the first
/// 8 bytes of its SHA-256 — stable across processes, machines and .NET versions, unlike string.GetHashCode.
/// </summary>
public static class ClientSeeds
{
    /// <summary>Streams of <see cref="DeterministicRandom.DeriveSeed"/>, apart from the centralised trainer's 1–3.</summary>
    public const long ClientStream = 11, EvaluationStream = 12, SamplingStream = 13, FailureStream = 14, PartitionStream = 15;

    public static long IdHash(string clientId) =>
        BinaryPrimitives.ReadInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(clientId)));

    /// <summary>The seed of a client's work in a round; its local episode e uses DeriveSeed(this, e).</summary>
    public static ulong ForRound(ulong runSeed, long round, string clientId) =>
        DeterministicRandom.DeriveSeed(runSeed, ClientStream, round, IdHash(clientId));

    /// <summary>The seed of a new client's evaluation episodes (independent of the training rounds).</summary>
    public static ulong ForEvaluation(ulong evalSeed, string clientId) =>
        DeterministicRandom.DeriveSeed(evalSeed, EvaluationStream, IdHash(clientId));
}
