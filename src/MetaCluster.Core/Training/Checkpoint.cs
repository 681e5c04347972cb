using System.Text.Json;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>
/// A resumable snapshot of a run: θ, the outer optimizer's state, the number of completed rounds, the run's config and
/// its training time so far (<see cref="TrainingSeconds"/>). File layout (little endian): magic "METACLCK", int32 format
/// version, int32 header length, UTF-8 JSON header, float32 θ, float32 optimizer vectors (in header order), and a
/// SHA-256 of everything before it (<see cref="CheckpointFraming"/>, shared with the federated checkpoint).
/// Written to a temporary file and renamed over the old one, so a crash mid-write never destroys the last
/// good checkpoint.
/// </summary>
/// <param name="TrainingSeconds">
/// Wall seconds of the rounds that made θ, summed over every process that trained the run (each resume adds its own), so
/// a long run's training time survives restarts and kills with the checkpoint rather than in a script's notes. Rounds
/// redone after a crash count once, in the run that saved them. Null in a checkpoint written before this was recorded
/// (the header field is optional, so those files read unchanged), and in every checkpoint resumed from one: a total
/// that misses some rounds would read as a measurement. Measured time, so unlike θ it differs from run to run.
/// </param>
public sealed record Checkpoint(TrainingConfig Config, long Round, ParameterSet Theta, OptimizerState Optimizer, double? TrainingSeconds = null)
{
    public const int FormatVersion = 1;
    public const string FileName = "checkpoint.mcc";
    private static readonly byte[] Magic = "METACLCK"u8.ToArray();
    private const int HashLength = CheckpointFraming.HashLength;

    private sealed record Header(TrainingConfig Config, long Round, string[] Names, long[][] Shapes,
        string Optimizer, long OptimizerStep, string[] VectorNames, int[] VectorLengths, double? TrainingSeconds = null);

    public void Save(string path) => WriteFile(path, ToBytes());

    /// <summary>
    /// Writes checkpoint bytes (from <see cref="ToBytes"/>), or any file that must never be left half-written (a θ
    /// export), atomically: a temporary file, flushed, then renamed.
    /// </summary>
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
        var vectors = CheckpointFraming.OrderedVectors(Optimizer);
        var header = new Header(Config, Round, CheckpointFraming.Names(Theta.Layout), CheckpointFraming.Shapes(Theta.Layout),
            Optimizer.Optimizer, Optimizer.Step, vectors.Select(v => v.Key).ToArray(), vectors.Select(v => v.Value.Length).ToArray(),
            TrainingSeconds);
        return CheckpointFraming.Write(Magic, FormatVersion, JsonSerializer.SerializeToUtf8Bytes(header), Theta.Values, vectors);
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
        if (!CheckpointFraming.StartsWith(bytes, Magic))
            throw new CheckpointException($"{path} is not a MetaCluster checkpoint (it does not start with the METACLCK marker).");
        if (bytes.Length < Magic.Length + 8 + HashLength)
            throw new CheckpointException($"{path} is truncated ({bytes.Length} bytes): the file was cut short; use an earlier checkpoint.");
        int version = CheckpointFraming.Version(bytes);
        if (version != FormatVersion)
            throw new CheckpointException($"{path} has checkpoint format version {version}; this build reads version {FormatVersion}.");
        int headerLength = CheckpointFraming.HeaderLength(bytes);
        if (!CheckpointFraming.HeaderFits(bytes, headerLength))
            throw new CheckpointException($"{path} is truncated or corrupt: its header claims {headerLength} bytes but the file has {bytes.Length}.");
        var header = CheckpointFraming.ReadHeader<Header>(bytes, headerLength, null, path);
        var layout = new ParameterLayout(header.Names.Zip(header.Shapes));
        long expected = CheckpointFraming.ExpectedLength(headerLength, layout, header.VectorLengths);
        if (bytes.Length < expected)
            throw new CheckpointException($"{path} is truncated: {bytes.Length} bytes where {expected} are needed; the write was cut short — use an earlier checkpoint.");
        if (bytes.Length > expected)
            throw new CheckpointException($"{path} is corrupt: {bytes.Length} bytes where {expected} are expected.");
        if (!CheckpointFraming.ChecksumMatches(bytes))
            throw new CheckpointException($"{path} is corrupt: its checksum does not match its contents.");

        var (theta, vectors) = CheckpointFraming.ReadValues(bytes, headerLength, layout, header.VectorNames, header.VectorLengths);
        return new Checkpoint(header.Config, header.Round, theta, new OptimizerState(header.Optimizer, header.OptimizerStep, vectors),
            header.TrainingSeconds);
    }
}

/// <summary>A checkpoint file that cannot be used, with what is wrong and what to do.</summary>
public sealed class CheckpointException(string message) : Exception(message);
