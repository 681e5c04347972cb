using System.Text.Json;

namespace MetaCluster.Cli.Tests;

/// <summary>
/// A test class's temp folder, removed with it, in which `metacluster train` writes named runs: each run's checkpoint
/// in its own sub-folder, so the runs of one class cannot resume each other.
/// </summary>
public sealed class TestCheckpoints(string prefix) : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory(prefix).FullName;

    public string PathOf(string relative) => Path.Combine(Directory, relative);

    /// <summary>Trains run <paramref name="name"/> (--json, --no-eval, checkpoints in its sub-folder) and returns the summary.</summary>
    public JsonElement Train(string name, params string[] arguments) =>
        CliRunner.Json(["train", "--checkpoint-dir", PathOf(name), "--json", "--no-eval", .. arguments]);

    /// <summary>The checkpoint file run <paramref name="name"/> writes.</summary>
    public string Checkpoint(string name) => Path.Combine(PathOf(name), "checkpoint.mcc");

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
