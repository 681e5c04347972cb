using MetaCluster.Contracts;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// Hub groups (--per-silo --hub-group 2) on a real four-worker cluster, a group's member silo killed (SIGKILL) mid-run:
/// the episodes it held come back through its group's leading hub as failures or a missed deadline, are computed by the
/// other group, and the run ends with θ bit-identical to the run in one process.
/// </summary>
public sealed class HubGroupLossTests(ITestOutputHelper output)
{
    private static readonly string[] RunSettings =
        ["--iterations", "300", "--meta-batch", "24", "--seed", "12", "--checkpoint-every", "100", "--no-eval", "--json"];

    [Fact]
    public async Task A_killed_member_of_a_hub_group_costs_no_episode_and_theta_keeps_its_bits()
    {
        string work = Directory.CreateTempSubdirectory("mc-hg-").FullName;
        string clusterId = $"hg-{Guid.NewGuid():N}"[..12];
        string runId = $"group-{clusterId}";
        string expected = await CliProcess.InProcessThetaSha256Async(Path.Combine(work, "reference"), RunSettings);

        await using var redis = await RedisServer.StartAsync();
        using var coordinator = await ServerProcess.StartAsync("coordinator", "coordinator", redis.Configuration, clusterId);
        var workers = new List<ServerProcess>();
        try
        {
            for (int i = 1; i <= 4; i++) workers.Add(await ServerProcess.StartAsync($"worker-{i}", "worker", redis.Configuration, clusterId));
            // Groups follow the directory's order of silo addresses (127.0.0.1:PORT@…: by port here): [0, 1] and [2, 3],
            // led by the first of each. Kill a member, not a leader.
            var ordered = workers.OrderBy(w => w.SiloPrefix, StringComparer.Ordinal).ToArray();
            var member = ordered[1];
            using var cli = CliProcess.TrainOnCluster(redis.Configuration, clusterId, runId, Path.Combine(work, "cluster"), [.. RunSettings, "--per-silo", "--hub-group", "2"]);
            await using var watcher = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
            var running = await ClusterLifecycleTests.WaitFor(watcher, runId, cli, "round 60 on all four silos",
                s => s.Round >= 60 && s.ContributingSilos.Length == 4);
            member.Process.Kill();
            output.WriteLine($"killed {member.Name} ({member.SiloPrefix}…, a member of the group led by {ordered[0].Name}) at round {running.Round}");

            var result = await CliProcess.JsonResultAsync(cli, TimeSpan.FromMinutes(4));
            Assert.Equal(expected, result.GetProperty("theta_sha256").GetString());
            var final = await watcher.Runs.GetStatusAsync(runId);
            Assert.Equal(RunState.Completed, final.State);
            Assert.DoesNotContain(final.ContributingSilos, s => s.StartsWith(member.SiloPrefix, StringComparison.Ordinal)); // gone from the last rounds
            output.WriteLine($"completed: θ {expected[..16]}… matches the in-process run; {final.Redispatched} episodes re-dispatched, {final.Retried} retried.");
        }
        catch
        {
            foreach (var p in workers.Prepend(coordinator)) output.WriteLine(p.Process.Tail(30));
            throw;
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }
}
