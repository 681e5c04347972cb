using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// Nobody is following the run when its coordinator's process dies: the recovery reminder alone must bring the
/// coordinator back on a surviving silo, which goes on from the persisted checkpoint to the fault-free θ.
/// </summary>
public sealed class ReminderRecoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_recovery_reminder_revives_a_run_whose_coordinator_died_while_no_client_was_calling()
    {
        var config = TrainingConfig.ForDataset("sinusoid", "maml") with { Iterations = 800, MetaBatch = 10, Seed = 5, CheckpointEvery = 50 };
        string expected = ReferenceTheta(config);

        await using var redis = await RedisServer.StartAsync();
        string clusterId = $"r-{Guid.NewGuid():N}"[..10];
        string[] quickReminder = ["--recovery-reminder-period", "3"];
        var coordinator = await ServerProcess.StartAsync("coordinator", "coordinator", redis.Configuration, clusterId, extra: quickReminder);
        using var worker = await ServerProcess.StartAsync("worker", "worker", redis.Configuration, clusterId, extra: quickReminder);
        try
        {
            await using var client = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
            string runId = $"reminder-{clusterId}";
            await client.Runs.StartAsync(runId, config);
            var status = await Poll.UntilAsync("a checkpoint at round 100", () => client.Runs.GetStatusAsync(runId),
                s => s.CheckpointRound >= 100 || s.IsFinished, TimeSpan.FromMinutes(2), intervalMs: 100);
            Assert.False(status.IsFinished, "the run ended before the kill; raise Iterations.");

            // kill -9 the coordinator's process; no client call may revive it — watch the worker's /metrics instead.
            var clock = Stopwatch.StartNew();
            coordinator.Process.Kill();
            string recovered = $"metacluster_coordinator_recoveries_total{{[^}}]*run_id=\"{Regex.Escape(runId)}\"[^}}]*}} 1";
            string rounds = $"metacluster_rounds_completed_total{{[^}}]*run_id=\"{Regex.Escape(runId)}\"[^}}]*}} (\\d+)";
            long roundsOnWorker = 0;
            while (clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                string scrape = await worker.ScrapeAsync();
                var match = Regex.Match(scrape, rounds);
                if (Regex.IsMatch(scrape, recovered) && match.Success && (roundsOnWorker = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)) > 0) break;
                await Task.Delay(200);
            }
            double revivedAfter = clock.Elapsed.TotalSeconds;
            Assert.True(roundsOnWorker > 0, $"no coordinator came back on the worker within 90 s of the kill.\n{worker.Process.Tail()}");
            output.WriteLine($"coordinator killed at round {status.Round} (checkpoint {status.CheckpointRound}); the reminder revived it on the worker silo {revivedAfter:F1} s later, which ran rounds again.");

            var final = await Poll.UntilAsync("the run to finish", () => client.Runs.GetStatusAsync(runId), s => s.IsFinished,
                TimeSpan.FromMinutes(4), intervalMs: 200);
            Assert.Equal(RunState.Completed, final.State);
            Assert.True(final.Recoveries >= 1);
            var theta = await client.Runs.Coordinator(runId).GetTheta();
            Assert.Equal(expected, theta!.Sha256);
        }
        finally
        {
            coordinator.Dispose();
        }
    }

    /// <summary>θ of the same config trained in this process, with nothing failing.</summary>
    private static string ReferenceTheta(TrainingConfig config)
    {
        var trainer = new MetaTrainer(RunFactory.Create(config));
        while (!trainer.Finished) trainer.RunRound();
        return trainer.Theta.Sha256();
    }
}
