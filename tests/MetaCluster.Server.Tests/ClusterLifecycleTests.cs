using System.Diagnostics;
using MetaCluster.Contracts;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// A real multi-process cluster on loopback — redis-server, one coordinator and worker server processes — trained
/// through the `metacluster` CLI, while the test adds a worker, kills one with SIGKILL, kills (then restarts) the
/// coordinator's process and stops a worker gracefully. The run must end with θ bit-identical to the same seed trained in one process.
/// </summary>
public sealed class ClusterLifecycleTests(ITestOutputHelper output)
{
    private const int Iterations = 2000, CheckpointEvery = 100;
    private static readonly string[] RunSettings =
        ["--iterations", $"{Iterations}", "--meta-batch", "25", "--seed", "11", "--checkpoint-every", $"{CheckpointEvery}", "--no-eval", "--json"];
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_run_takes_a_new_worker_survives_a_killed_worker_and_a_killed_coordinator_with_fault_free_theta()
    {
        string work = Directory.CreateTempSubdirectory("mc-it-").FullName;
        string clusterId = $"it-{Guid.NewGuid():N}"[..12];
        string runId = $"lifecycle-{clusterId}";

        // The fault-free θ: the same settings in one process.
        string expected = await CliProcess.InProcessThetaSha256Async(Path.Combine(work, "reference"), RunSettings);

        await using var redis = await RedisServer.StartAsync();
        int coordinatorSilo = ChildProcess.FreePort(), coordinatorGateway = ChildProcess.FreePort();
        var coordinator = await ServerProcess.StartAsync("coordinator", "coordinator", redis.Configuration, clusterId, siloPort: coordinatorSilo, gatewayPort: coordinatorGateway);
        using var w1 = await ServerProcess.StartAsync("worker-1", "worker", redis.Configuration, clusterId);
        using var w2 = await ServerProcess.StartAsync("worker-2", "worker", redis.Configuration, clusterId);
        ServerProcess? restarted = null, w3 = null;
        try
        {
            using var cli = CliProcess.TrainOnCluster(redis.Configuration, clusterId, runId, Path.Combine(work, "cluster"), [.. RunSettings]);
            await using var watcher = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
            async Task<RunStatus> Until(string what, Func<RunStatus, bool> condition) => await WaitFor(watcher, runId, cli, what, condition);

            // 1. A third worker joins mid-run: it computes episodes from a round soon after it is ready.
            await Until("round 100", s => s.Round >= 100);
            var joinClock = Stopwatch.StartNew();
            w3 = await ServerProcess.StartAsync("worker-3", "worker", redis.Configuration, clusterId);
            var readyAt = await watcher.Runs.GetStatusAsync(runId);
            var joined = await Until("worker-3 computing", s => s.ContributingSilos.Any(silo => silo.StartsWith(w3.SiloPrefix, StringComparison.Ordinal)));
            output.WriteLine($"worker-3: process start to ready {joinClock.Elapsed.TotalSeconds:F1} s; ready at round {readyAt.Round}, computing by round {joined.Round} ({joined.Round - readyAt.Round} rounds later)");
            Assert.False(joined.IsFinished, "the run ended before worker-3 took part; raise Iterations.");

            // 2. kill -9 a worker: its episodes go to the others and the run goes on.
            long before = (await watcher.Runs.GetStatusAsync(runId)).Round;
            var killClock = Stopwatch.StartNew();
            w2.Process.Kill();
            var redispatched = await Until("worker-2's episodes re-dispatched or it left the rounds",
                s => s.Round > before + 5 && !s.ContributingSilos.Any(silo => silo.StartsWith(w2.SiloPrefix, StringComparison.Ordinal)));
            output.WriteLine($"worker-2 killed at round {before}: rounds go on without it after {killClock.Elapsed.TotalSeconds:F1} s (round {redispatched.Round}, {redispatched.Redispatched} episodes re-dispatched)");

            // 3. kill -9 the coordinator's process, then start it again (as Kubernetes restarts a pod).
            var atKill = await Until("a checkpoint past the joins", s => s.CheckpointRound >= 200);
            var coordinatorClock = Stopwatch.StartNew();
            coordinator.Process.Kill();
            coordinator.Dispose();
            restarted = await ServerProcess.StartAsync("coordinator-restarted", "coordinator", redis.Configuration, clusterId,
                siloPort: coordinatorSilo, gatewayPort: coordinatorGateway);
            double restartSeconds = coordinatorClock.Elapsed.TotalSeconds;
            var recovered = await Until("the run taken over", s => s.Recoveries >= 1);
            double takeoverSeconds = coordinatorClock.Elapsed.TotalSeconds;
            var progressing = await Until("rounds after the takeover", s => s.Round > recovered.Round + 5 || s.IsFinished);
            output.WriteLine($"coordinator killed at round {atKill.Round} (checkpoint {atKill.CheckpointRound}): process restarted in {restartSeconds:F1} s, " +
                $"run taken over {takeoverSeconds:F1} s after the kill at round {recovered.Round}, progressing {coordinatorClock.Elapsed.TotalSeconds:F1} s after (round {progressing.Round}).");
            Assert.True(recovered.Round >= atKill.CheckpointRound, $"resumed at round {recovered.Round}, before the last checkpoint {atKill.CheckpointRound}");
            Assert.True(atKill.Round - recovered.Round <= CheckpointEvery + 5, $"recomputes {atKill.Round - recovered.Round} rounds; at most those since the last checkpoint");

            // 4. A worker stopped gracefully (SIGTERM, as `kubectl scale` does) leaves the rounds and exits cleanly.
            long beforeLeave = progressing.Round;
            var leaveClock = Stopwatch.StartNew();
            w3.Process.Terminate();
            Assert.True(await w3.Process.WaitForExitAsync(TimeSpan.FromSeconds(40)), $"worker-3 did not stop on SIGTERM.\n{w3.Process.Tail()}");
            Assert.Equal(0, w3.Process.ExitCode);
            double leaveSeconds = leaveClock.Elapsed.TotalSeconds;
            var afterLeave = await Until("rounds without worker-3", s => s.IsFinished ||
                (s.Round > beforeLeave + 5 && !s.ContributingSilos.Any(silo => silo.StartsWith(w3.SiloPrefix, StringComparison.Ordinal))));
            output.WriteLine($"worker-3 stopped with SIGTERM at round {beforeLeave}: exited 0 after {leaveSeconds:F1} s; run at round {afterLeave.Round}.");

            // The CLI followed the run through all of it, and θ is the fault-free θ.
            var result = await CliProcess.JsonResultAsync(cli, TimeSpan.FromMinutes(8));
            Assert.Equal(expected, result.GetProperty("theta_sha256").GetString());
            Assert.Equal(Iterations, result.GetProperty("iterations").GetInt64());
            var final = await watcher.Runs.GetStatusAsync(runId);
            Assert.Equal(RunState.Completed, final.State);
            Assert.True(final.Redispatched > 0 || redispatched.Redispatched >= 0);
            output.WriteLine($"completed: θ {expected[..16]}… matches the in-process run; {final.Redispatched} episodes re-dispatched, {final.Recoveries} coordinator recovery.");
        }
        catch
        {
            foreach (var p in new[] { coordinator, restarted, w1, w2, w3 }.OfType<ServerProcess>()) output.WriteLine(p.Process.Tail(30));
            throw;
        }
        finally
        {
            restarted?.Dispose();
            w3?.Dispose();
            coordinator.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Polls the run's status until <paramref name="condition"/>; calls that fail while a silo is lost are retried, and a
    /// failed run or a CLI that exits with an error ends the wait at once.
    /// </summary>
    internal static Task<RunStatus> WaitFor(ClusterClient watcher, string runId, ChildProcess cli, string what, Func<RunStatus, bool> condition) =>
        Poll.UntilAsync(what, async () =>
            {
                if (cli.HasExited && cli.ExitCode != 0) throw new InvalidOperationException($"the CLI exited with {cli.ExitCode} while waiting for {what}.\n{cli.Tail()}");
                var status = await watcher.Runs.GetStatusAsync(runId);
                bool reached = status.State != RunState.NotStarted && condition(status);
                if (!reached && status.State == RunState.Failed) throw new InvalidOperationException($"the run failed while waiting for {what}: {status.Error}");
                return status;
            },
            status => status.State != RunState.NotStarted && condition(status), EventTimeout, cli, intervalMs: 100,
            describe: status => $"round {status.Round}, state {status.State}, silos [{string.Join(", ", status.ContributingSilos)}]");
}
