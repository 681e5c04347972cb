using MetaCluster.Contracts;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// The coordinator's checkpoint file cannot be written mid-run: a warning and a metric, the run goes on on the
/// checkpoint held in its Redis record and ends with θ bit-identical to the run in one process. A killed writer's
/// temporary file is removed when the next writer for the directory starts; a live writer's is not.
/// </summary>
public sealed class CheckpointWriteTests(ITestOutputHelper output)
{
    private const int Iterations = 500;
    private static readonly string[] RunSettings =
        ["--iterations", $"{Iterations}", "--meta-batch", "25", "--seed", "11", "--checkpoint-every", "100", "--no-eval", "--json"];

    [Fact]
    public async Task A_checkpoint_file_that_cannot_be_written_is_a_warning_and_the_run_ends_with_fault_free_theta()
    {
        string work = Directory.CreateTempSubdirectory("mc-cw-").FullName;
        string clusterId = $"cw-{Guid.NewGuid():N}"[..12];
        string runId = $"ckpt-{clusterId}";
        string expected = await CliProcess.InProcessThetaSha256Async(Path.Combine(work, "reference"), RunSettings);

        // Temporaries as writers leave them: a killed one's (its pid no live process, last written 2 minutes ago), a
        // live one's (this test's pid, as recent), and an abandoned one whose pid may have been reused (20 minutes old).
        string directory = Path.Combine(work, "cluster"), file = Path.Combine(directory, "checkpoint.mcc");
        Directory.CreateDirectory(directory);
        string Temporary(int pid, TimeSpan age)
        {
            string path = $"{file}.{pid}.{Guid.NewGuid():N}.tmp";
            File.WriteAllBytes(path, [1, 2, 3]);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
            return path;
        }
        string killed = Temporary(DeadPid(), TimeSpan.FromMinutes(2));
        string live = Temporary(Environment.ProcessId, TimeSpan.FromMinutes(2));
        string abandoned = Temporary(Environment.ProcessId, TimeSpan.FromMinutes(20));

        await using var redis = await RedisServer.StartAsync();
        using var coordinator = await ServerProcess.StartAsync("coordinator", "coordinator", redis.Configuration, clusterId);
        using var worker = await ServerProcess.StartAsync("worker-1", "worker", redis.Configuration, clusterId);
        try
        {
            using var cli = CliProcess.TrainOnCluster(redis.Configuration, clusterId, runId, directory, [.. RunSettings]);
            await using var watcher = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
            Task<RunStatus> Until(string what, Func<RunStatus, bool> condition) => ClusterLifecycleTests.WaitFor(watcher, runId, cli, what, condition);

            var first = await Until("the first checkpoint file", s => s.CheckpointRound >= 100 && s.CheckpointPath is not null);
            Assert.False(File.Exists(killed), "the killed writer's temporary is still there");
            Assert.False(File.Exists(abandoned), "the 20-minute-old temporary is still there");
            Assert.True(File.Exists(live), "a live process's recent temporary was removed");

            // The checkpoint path becomes a non-empty directory: the write's final rename onto it fails (EISDIR) for
            // root too — chmod would not stop root, who runs these tests, and a read-only bind mount needs privileges.
            // The run is held between rounds while the path changes, both times: 500 rounds take seconds, and once its
            // last checkpoint had been due while the path was still blocked (a CI run: no file at the end).
            await PausedAsync(watcher, runId, Until);
            File.Delete(file);
            Directory.CreateDirectory(Path.Combine(file, "blocker"));
            await watcher.Runs.ResumeAsync(runId);
            var failed = await Until("a checkpoint past the blocked write", s => s.CheckpointRound > first.CheckpointRound && s.CheckpointPath is null);
            Assert.Equal(RunState.Running, failed.State);
            await PausedAsync(watcher, runId, Until);
            double failures = await Poll.UntilAsync("the write failure counted", async () => Metric(await coordinator.ScrapeAsync(), "metacluster_checkpoint_write_failures_total", runId),
                v => v >= 1, TimeSpan.FromSeconds(30));
            output.WriteLine($"checkpoint round {failed.CheckpointRound} not written to the file (held in Redis); write failures counted: {failures}");
            Assert.Equal([live], Directory.GetFiles(directory, "checkpoint.mcc.*.tmp")); // the failed write removed its temporary

            // The path is free again: later checkpoints are files again, and the CLI's copy at the end lands there.
            Directory.Delete(file, recursive: true);
            await watcher.Runs.ResumeAsync(runId);
            var result = await CliProcess.JsonResultAsync(cli, TimeSpan.FromMinutes(3));
            Assert.Equal(expected, result.GetProperty("theta_sha256").GetString());
            var final = await watcher.Runs.GetStatusAsync(runId);
            Assert.Equal(RunState.Completed, final.State);
            Assert.Equal(file, final.CheckpointPath);
            Assert.True(File.Exists(file));
            output.WriteLine($"completed: θ {expected[..16]}… matches the in-process run; final checkpoint round {final.CheckpointRound} written to the file.");
        }
        catch
        {
            foreach (var p in new[] { coordinator, worker }) output.WriteLine(p.Process.Tail(30));
            throw;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Pauses the run and waits until it is held between rounds (not at its end: the test needs rounds left).</summary>
    private static async Task PausedAsync(ClusterClient watcher, string runId, Func<string, Func<RunStatus, bool>, Task<RunStatus>> until)
    {
        await watcher.Runs.PauseAsync(runId);
        var paused = await until("the run held between rounds", s => s.State is RunState.Paused or RunState.Completed);
        Assert.True(paused.State == RunState.Paused, $"the run ended (round {paused.Round}) before it could be held; it needs more rounds");
    }

    /// <summary>The pid of a process that has exited: as a killed writer's is.</summary>
    private static int DeadPid()
    {
        using var process = System.Diagnostics.Process.Start("true")!;
        process.WaitForExit();
        return process.Id;
    }

    /// <summary>The value of a counter's series for the run (0 when absent).</summary>
    private static double Metric(string scrape, string name, string runId) =>
        scrape.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"run_id=\"{runId}\""))
            .Select(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Sum();
}
