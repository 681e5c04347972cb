using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>
/// A resumable snapshot of a run: θ, the outer optimizer's state, the number of completed rounds and the run's
/// config. File layout (little endian): magic "METACLCK", int32 format version, int32 header length, UTF-8 JSON
/// header, float32 θ, float32 optimizer vectors (in header order), and a SHA-256 of everything before it.
/// Written to a temporary file and renamed over the old one, so a crash mid-write never destroys the last
/// good checkpoint.
/// </summary>
public sealed record Checkpoint(TrainingConfig Config, long Round, ParameterSet Theta, OptimizerState Optimizer)
{
    public const int FormatVersion = 1;
    public const string FileName = "checkpoint.mcc";
    private static readonly byte[] Magic = "METACLCK"u8.ToArray();
    private const int HashLength = 32;

    private sealed record Header(TrainingConfig Config, long Round, string[] Names, long[][] Shapes,
        string Optimizer, long OptimizerStep, string[] VectorNames, int[] VectorLengths);

    public void Save(string path) => WriteFile(path, ToBytes());

    /// <summary>Writes checkpoint bytes (from <see cref="ToBytes"/>) atomically: a temporary file, flushed, then renamed.</summary>
    public static void WriteFile(string path, byte[] bytes)
    {
        string fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        string temporary = $"{fullPath}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>A temporary file older than this is a dead writer's, whatever its process id says.</summary>
    public static readonly TimeSpan StaleTemporaryAge = TimeSpan.FromMinutes(10);

    /// <summary>How long a temporary whose process id names no live process is left alone (it may be another machine's).</summary>
    public static readonly TimeSpan DeadWriterGrace = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Removes the temporaries <see cref="WriteFile"/> left behind in <paramref name="directory"/> when its writer was
    /// killed between creating and renaming one (checkpoint.mcc.&lt;pid&gt;.&lt;guid&gt;.tmp), and returns their paths.
    /// Called when a writer for the directory starts. A live writer's temporary must survive it, so one is removed only
    /// when (a) it was last written more than <see cref="StaleTemporaryAge"/> ago — a write takes seconds and keeps
    /// its file fresh while it runs, so nobody is still writing it — or (b) its pid is no live process on this machine
    /// and it was last written more than <see cref="DeadWriterGrace"/> ago: the grace keeps (a)'s safety for a writer
    /// on another machine sharing the directory (a network volume), whose pid means nothing here. Files of another
    /// name, and ones that cannot be removed, are left alone.
    /// </summary>
    public static IReadOnlyList<string> RemoveStaleTemporaries(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        var removed = new List<string>();
        var now = DateTime.UtcNow;
        foreach (string path in Directory.EnumerateFiles(directory, $"{FileName}.*.tmp"))
        {
            string[] parts = Path.GetFileName(path)[(FileName.Length + 1)..^".tmp".Length].Split('.');
            if (parts.Length != 2 || !int.TryParse(parts[0], out int pid) || parts[1].Length != 32 || !Guid.TryParseExact(parts[1], "N", out _)) continue;
            try
            {
                var age = now - File.GetLastWriteTimeUtc(path);
                if (age > StaleTemporaryAge || (age > DeadWriterGrace && !ProcessIsLive(pid)))
                {
                    File.Delete(path);
                    removed.Add(path);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for the next start.
            }
        }
        return removed;
    }

    private static bool ProcessIsLive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The file's bytes, as <see cref="Save"/> writes them (e.g. to send a checkpoint to a cluster).</summary>
    public byte[] ToBytes()
    {
        var vectors = Optimizer.Vectors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        var header = new Header(Config, Round,
            Theta.Layout.Parameters.Select(p => p.Name).ToArray(), Theta.Layout.Parameters.Select(p => p.Shape).ToArray(),
            Optimizer.Optimizer, Optimizer.Step, vectors.Select(v => v.Key).ToArray(), vectors.Select(v => v.Value.Length).ToArray());
        byte[] headerBytes = JsonSerializer.SerializeToUtf8Bytes(header);

        using var body = new MemoryStream();
        body.Write(Magic);
        WriteInt32(body, FormatVersion);
        WriteInt32(body, headerBytes.Length);
        body.Write(headerBytes);
        body.Write(MemoryMarshal.AsBytes(Theta.Values.AsSpan()));
        foreach (var (_, values) in vectors) body.Write(MemoryMarshal.AsBytes(values.AsSpan()));
        body.Write(SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length)));
        return body.ToArray();
    }

    public static Checkpoint Load(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"no checkpoint at {path}; pass the file written by 'metacluster train' (its --checkpoint-dir holds {FileName}).");
        return FromBytes(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads a checkpoint from its file bytes; <paramref name="path"/> names it in error messages.</summary>
    public static Checkpoint FromBytes(byte[] bytes, string path = "the checkpoint")
    {
        if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException($"{path} is not a MetaCluster checkpoint (it does not start with the METACLCK marker).");
        if (bytes.Length < Magic.Length + 8 + HashLength)
            throw new CheckpointException($"{path} is truncated ({bytes.Length} bytes): the file was cut short; use an earlier checkpoint.");
        int version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (version != FormatVersion)
            throw new CheckpointException($"{path} has checkpoint format version {version}; this build reads version {FormatVersion}.");
        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (headerLength < 2 || 16L + headerLength + HashLength > bytes.Length)
            throw new CheckpointException($"{path} is truncated or corrupt: its header claims {headerLength} bytes but the file has {bytes.Length}.");
        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(16, headerLength))
                ?? throw new CheckpointException($"{path} has an empty header.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is corrupt: its header is not valid ({e.Message}).");
        }
        var layout = new ParameterLayout(header.Names.Zip(header.Shapes));
        long expected = 16L + headerLength + 4L * (layout.TotalCount + header.VectorLengths.Sum(l => (long)l)) + HashLength;
        if (bytes.Length < expected)
            throw new CheckpointException($"{path} is truncated: {bytes.Length} bytes where {expected} are needed; the write was cut short — use an earlier checkpoint.");
        if (bytes.Length > expected)
            throw new CheckpointException($"{path} is corrupt: {bytes.Length} bytes where {expected} are expected.");
        var stored = bytes.AsSpan(bytes.Length - HashLength);
        if (!SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashLength)).AsSpan().SequenceEqual(stored))
            throw new CheckpointException($"{path} is corrupt: its checksum does not match its contents.");

        int offset = 16 + headerLength;
        float[] Read(int count)
        {
            var values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset, 4 * count)).ToArray();
            offset += 4 * count;
            return values;
        }
        var theta = new ParameterSet(layout, Read(layout.TotalCount));
        var vectors = header.VectorNames.Zip(header.VectorLengths).ToDictionary(v => v.First, v => Read(v.Second));
        return new Checkpoint(header.Config, header.Round, theta, new OptimizerState(header.Optimizer, header.OptimizerStep, vectors));
    }

    private static void WriteInt32(Stream stream, int value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, value);
        stream.Write(buffer);
    }
}

/// <summary>A checkpoint file that cannot be used, with what is wrong and what to do.</summary>
public sealed class CheckpointException(string message) : Exception(message);
