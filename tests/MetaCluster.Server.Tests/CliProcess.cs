using System.Text.Json;

namespace MetaCluster.Server.Tests;

/// <summary>The `metacluster` command as a user runs it.</summary>
public static class CliProcess
{
    public static ChildProcess Start(string name, params string[] arguments) => new(name, "dotnet", [Paths.Cli, .. arguments]);

    /// <summary>`metacluster train` as a client of the cluster on <paramref name="redis"/>, checkpointing to <paramref name="checkpointDirectory"/>.</summary>
    public static ChildProcess TrainOnCluster(string redis, string clusterId, string runId, string checkpointDirectory, params string[] settings) =>
        Start("train", ["train", "--cluster", $"redis://{redis}", "--cluster-id", clusterId, "--run-id", runId, "--checkpoint-dir", checkpointDirectory, .. settings]);

    /// <summary>θ's SHA-256 after the same run in one process (train --in-process): what a cluster run must match bit for bit.</summary>
    public static async Task<string> InProcessThetaSha256Async(string checkpointDirectory, params string[] settings)
    {
        using var reference = Start("reference", ["train", "--in-process", "--checkpoint-dir", checkpointDirectory, .. settings]);
        return (await JsonResultAsync(reference, TimeSpan.FromMinutes(5))).GetProperty("theta_sha256").GetString()!;
    }

    /// <summary>Waits for a command that prints one JSON line and must succeed.</summary>
    public static async Task<JsonElement> JsonResultAsync(ChildProcess cli, TimeSpan timeout)
    {
        Assert.True(await cli.WaitForExitAsync(timeout), $"{cli.Name} did not finish within {timeout.TotalSeconds:F0} s.\n{cli.Tail()}");
        Assert.True(cli.ExitCode == 0, $"{cli.Name} exited with {cli.ExitCode}.\n{cli.Tail()}");
        string json = cli.Output.Split('\n').Single(line => line.StartsWith('{'));
        return JsonDocument.Parse(json).RootElement;
    }
}
