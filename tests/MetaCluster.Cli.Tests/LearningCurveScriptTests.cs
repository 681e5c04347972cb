using System.Diagnostics;
using System.Text.Json;

namespace MetaCluster.Cli.Tests;

/// <summary>
/// bench/learning_curve.sh, which every long run on the results page went through: segments of training with
/// <c>train --resume</c>, a curve point after each, a final scoring — and on every line the run's training time, read
/// from the checkpoint (so a segment stopped from outside still counts).
/// </summary>
public sealed class LearningCurveScriptTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metacluster-curve-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Python3Fact]
    public void SegmentsCurvePointsAndTheFinalLineCarryTheCheckpointsTrainingTime()
    {
        // The script runs $CLI as one executable: a wrapper around the built metacluster.dll.
        string cli = Path.Combine(_directory, "metacluster");
        File.WriteAllText(cli, $"#!/bin/sh\nexec dotnet '{Path.Combine(AppContext.BaseDirectory, "metacluster.dll")}' \"$@\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(cli, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string output = Path.Combine(_directory, "curve.jsonl"), run = Path.Combine(_directory, "run");

        var start = new ProcessStartInfo("bash") { WorkingDirectory = ResultsPageTests.Repository, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in new[] { "bench/learning_curve.sh", output, run, "3", "6", "--dataset", "sinusoid", "--algorithm", "maml", "--meta-batch", "4" })
            start.ArgumentList.Add(argument);
        (start.Environment["CLI"], start.Environment["CURVE_EPISODES"], start.Environment["FINAL_EPISODES"]) = (cli, "5", "5");
        start.Environment["SEGMENT_OPTIONS"] = "--in-process --threads 1";
        using (var process = Process.Start(start)!)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"learning_curve.sh exited {process.ExitCode}:\n{stderr}{stdout.Result}");
        }

        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([3L, 6L, 6L], lines.Select(l => l.GetProperty("round").GetInt64()));
        Assert.Equal([true, true, false], lines.Select(l => l.TryGetProperty("curve", out var c) && c.GetBoolean()));
        Assert.Equal([5, 5, 5], lines.Select(l => l.GetProperty("evaluation").GetProperty("episodes").GetInt32()));
        double[] trained = lines.Select(l => l.GetProperty("train_wall_seconds").GetDouble()).ToArray();
        Assert.True(trained[0] > 0 && trained[1] > trained[0], $"the second segment adds its rounds' time: {string.Join(", ", trained)}");
        Assert.Equal(trained[1], trained[2]);
        // The checkpoint itself says so: the figure evaluate reads from it.
        var evaluated = CliRunner.Json("evaluate", "--checkpoint", Path.Combine(run, "checkpoint.mcc"), "--episodes", "2", "--json");
        Assert.Equal(trained[2], evaluated.GetProperty("train_wall_seconds").GetDouble());
    }
}
