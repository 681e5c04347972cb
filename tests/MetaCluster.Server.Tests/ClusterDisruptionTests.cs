using System.Diagnostics;
using MetaCluster.Contracts;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>
/// What a real cluster does to a run beyond processes dying: its Redis restarted empty, a worker frozen (SIGSTOP)
/// long enough to be declared dead. redis-server and the servers are real processes, the run is followed by the
/// `metacluster` CLI, and it must end with θ bit-identical to the same settings trained in one process.
/// </summary>
public sealed class ClusterDisruptionTests(ITestOutputHelper output)
{
    private const int Iterations = 1500, CheckpointEvery = 100;
    private static readonly string[] RunSettings =
        ["--iterations", $"{Iterations}", "--meta-batch", "25", "--seed", "11", "--checkpoint-every", $"{CheckpointEvery}", "--no-eval", "--json"];
    private static readonly SemaphoreSlim ReferenceLock = new(1, 1);
    private static string? _reference;

    /// <summary>The fault-free θ: the same settings in one process (computed once for the tests of this class).</summary>
    private static async Task<string> ReferenceThetaAsync()
    {
        await ReferenceLock.WaitAsync();
        try
        {
            if (_reference is not null) return _reference;
            string dir = Directory.CreateTempSubdirectory("mc-ref-").FullName;
            _reference = await CliProcess.InProcessThetaSha256Async(dir, RunSettings);
            Directory.Delete(dir, recursive: true);
            return _reference;
        }
        finally
        {
            ReferenceLock.Release();
        }
    }

    [Fact]
    public async Task A_run_survives_its_redis_restarted_empty_with_fault_free_theta()
    {
        string expected = await ReferenceThetaAsync();
        string work = Directory.CreateTempSubdirectory("mc-redis-").FullName;
        string clusterId = $"rr-{Guid.NewGuid():N}"[..12];
        string runId = $"redis-restart-{clusterId}";
        await using var redis = await RedisServer.StartAsync();
        // The watchdog short for the test (default 30 s): a silo that cannot read membership for 5 s exits with 1.
        var servers = new Supervised(output, redis.Configuration, clusterId, ["--membership-watchdog", "5"]);
        try
        {
            await servers.StartAsync("coordinator", "coordinator");
            await servers.StartAsync("worker-1", "worker");
            await servers.StartAsync("worker-2", "worker");
            using var cli = CliProcess.TrainOnCluster(redis.Configuration, clusterId, runId, Path.Combine(work, "cluster"), ["--stall-timeout", "80", .. RunSettings]);
            RunStatus before;
            await using (var watcher = await ClusterClient.ConnectAsync(redis.Configuration, clusterId))
                before = await Poll.UntilAsync("a checkpoint at round 200", () => watcher.Runs.GetStatusAsync(runId),
                    s => s.CheckpointRound >= 200 || s.IsFinished, TimeSpan.FromSeconds(90), cli, intervalMs: 100);
            Assert.False(before.IsFinished, "the run ended before Redis was restarted; raise Iterations.");

            var clock = Stopwatch.StartNew();
            await redis.RestartEmptyAsync();
            output.WriteLine($"redis-server killed and restarted empty at round {before.Round} (checkpoint {before.CheckpointRound}).");
            // The supervisor (Kubernetes, cluster.sh; here the test) restarts each server that exits.
            var exits = await servers.SuperviseUntilAsync(() => servers.Restarts >= 3, TimeSpan.FromSeconds(60));
            output.WriteLine(exits);
            output.WriteLine(servers.KeyLines());
            Assert.All(servers.ExitCodes, code => Assert.Equal(1, code));
            Assert.Contains("membership watchdog", servers.ExitedOutput);
            Assert.Contains("not a takeover", servers.ExitedOutput);

            await using var after = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
            var resumed = await Poll.UntilAsync("the run going on after the restart", () => after.Runs.GetStatusAsync(runId),
                s => s.IsFinished || (s.Recoveries >= 1 && s.Round > (s.CheckpointRound ?? 0) + 5), TimeSpan.FromSeconds(60), cli, intervalMs: 200);
            output.WriteLine($"run going on {clock.Elapsed.TotalSeconds:F1} s after Redis restarted: round {resumed.Round}, {resumed.Recoveries} recovery, state {resumed.State}.");

            var result = await CliProcess.JsonResultAsync(cli, TimeSpan.FromMinutes(3));
            Assert.Equal(expected, result.GetProperty("theta_sha256").GetString());
            var final = await after.Runs.GetStatusAsync(runId);
            Assert.Equal(RunState.Completed, final.State);
            output.WriteLine($"completed {clock.Elapsed.TotalSeconds:F1} s after the Redis restart: θ {expected[..16]}… matches the in-process run.");
        }
        catch
        {
            output.WriteLine(servers.Tails());
            output.WriteLine(servers.KeyLines());
            throw;
        }
        finally
        {
            servers.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task The_CLI_gives_up_loudly_when_the_cluster_stops_making_progress()
    {
        string work = Directory.CreateTempSubdirectory("mc-stall-").FullName;
        string clusterId = $"st-{Guid.NewGuid():N}"[..12];
        string runId = $"stall-{clusterId}";
        await using var redis = await RedisServer.StartAsync();
        // No watchdog and nobody restarting anything: Redis restarted empty leaves the silos stuck.
        var servers = new Supervised(output, redis.Configuration, clusterId, ["--membership-watchdog", "0"]);
        try
        {
            await servers.StartAsync("coordinator", "coordinator");
            await servers.StartAsync("worker-1", "worker");
            using var cli = CliProcess.TrainOnCluster(redis.Configuration, clusterId, runId, Path.Combine(work, "cluster"), ["--stall-timeout", "15", .. RunSettings]);
            await using (var watcher = await ClusterClient.ConnectAsync(redis.Configuration, clusterId))
                await Poll.UntilAsync("round 50", () => watcher.Runs.GetStatusAsync(runId), s => s.Round >= 50, TimeSpan.FromSeconds(90), cli, intervalMs: 100);
            var clock = Stopwatch.StartNew();
            // Freeze every server: the CLI hears nothing more, whichever gateway it uses.
            foreach (var server in servers.Running) server.Process.Freeze();
            Assert.True(await cli.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the CLI did not give up.\n{cli.Tail()}");
            output.WriteLine($"CLI exited with {cli.ExitCode} {clock.Elapsed.TotalSeconds:F1} s after the cluster froze:\n{cli.Tail(5)}");
            Assert.Equal(2, cli.ExitCode);
            Assert.Contains($"run {runId} made no progress", cli.Output);
            foreach (var server in servers.Running) server.Process.Thaw();
        }
        finally
        {
            servers.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task A_frozen_worker_declared_dead_neither_fails_the_run_nor_blinds_the_CLI()
    {
        string expected = await ReferenceThetaAsync();
        string work = Directory.CreateTempSubdirectory("mc-freeze-").FullName;
        string clusterId = $"fz-{Guid.NewGuid():N}"[..12];
        string runId = $"freeze-{clusterId}";
        await using var redis = await RedisServer.StartAsync();
        var servers = new Supervised(output, redis.Configuration, clusterId, []);
        try
        {
            await servers.StartAsync("coordinator", "coordinator");
            var w1 = await servers.StartAsync("worker-1", "worker");
            await servers.StartAsync("worker-2", "worker");
            using var cli = CliProcess.TrainOnCluster(redis.Configuration, clusterId, runId, Path.Combine(work, "cluster"), [.. RunSettings]);
            await using var watcher = await ClusterClient.ConnectAsync(redis.Configuration, clusterId);
            var before = await Poll.UntilAsync("a checkpoint at round 200", () => watcher.Runs.GetStatusAsync(runId),
                s => s.CheckpointRound >= 200 || s.IsFinished, TimeSpan.FromSeconds(90), cli, intervalMs: 100);
            Assert.False(before.IsFinished, "the run ended before the freeze; raise Iterations.");

            var clock = Stopwatch.StartNew();
            w1.Process.Freeze();
            output.WriteLine($"worker-1 frozen (SIGSTOP) at round {before.Round}.");
            double? declaredDead = null;
            var states = new HashSet<RunState>();
            (double Seconds, long Round)? goingOn = null;
            using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration);
            while (clock.Elapsed < TimeSpan.FromSeconds(18))
            {
                if (declaredDead is null && await MembershipSaysDead(redisClient, w1.SiloPort)) declaredDead = clock.Elapsed.TotalSeconds;
                try
                {
                    var now = await watcher.Runs.GetStatusAsync(runId);
                    states.Add(now.State);
                    if (goingOn is null && now.Round > before.Round + 5) goingOn = (clock.Elapsed.TotalSeconds, now.Round);
                }
                catch (Exception e) when (e is OrleansException or TimeoutException)
                {
                }
                await Task.Delay(200);
            }
            w1.Process.Thaw();
            output.WriteLine($"worker-1 thawed (SIGCONT) after {clock.Elapsed.TotalSeconds:F1} s; membership declared it dead {(declaredDead is { } d ? $"{d:F1} s" : "not yet")} after the freeze.");
            output.WriteLine(goingOn is { } g ? $"rounds went on without it {g.Seconds:F1} s after the freeze (round {g.Round})." : "rounds had not gone on 18 s after the freeze.");
            Assert.NotNull(declaredDead);
            Assert.DoesNotContain(RunState.Failed, states);

            var result = await CliProcess.JsonResultAsync(cli, TimeSpan.FromMinutes(3));
            string notices = string.Join('\n', cli.Output.Split('\n').Where(l => l.Contains("coordinator of run", StringComparison.Ordinal)));
            output.WriteLine($"CLI notices:\n{(notices.Length == 0 ? "(none: it never lost contact)" : notices)}");
            Assert.Equal(expected, result.GetProperty("theta_sha256").GetString());
            // The test's own client keeps Orleans' defaults: it may still be routed through the dead silo's gateway for a while.
            var final = await Poll.UntilAsync("the final status", () => watcher.Runs.GetStatusAsync(runId), s => s.IsFinished, TimeSpan.FromSeconds(60));
            Assert.Equal(RunState.Completed, final.State);
            Assert.Null(final.Error);
            output.WriteLine($"completed {clock.Elapsed.TotalSeconds:F1} s after the freeze: θ {expected[..16]}… matches; {final.Recoveries} coordinator recoveries, {final.Redispatched} episodes re-dispatched.");
            output.WriteLine(servers.KeyLines());
            output.WriteLine(w1.Process.HasExited ? $"worker-1 exited with {w1.Process.ExitCode} after SIGCONT (it had been declared dead)." : "worker-1 is still running after SIGCONT.");
        }
        catch
        {
            output.WriteLine(servers.Tails());
            output.WriteLine(servers.KeyLines());
            throw;
        }
        finally
        {
            servers.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Whether the Redis membership table (a hash of JSON rows) lists the silo on <paramref name="siloPort"/> as dead (SiloStatus.Dead = 6).</summary>
    private static async Task<bool> MembershipSaysDead(StackExchange.Redis.ConnectionMultiplexer redis, int siloPort)
    {
        var server = redis.GetServers()[0];
        var db = redis.GetDatabase();
        foreach (var key in server.Keys(pattern: "*"))
        {
            if (await db.KeyTypeAsync(key) != StackExchange.Redis.RedisType.Hash) continue;
            foreach (var entry in await db.HashGetAllAsync(key))
            {
                string text = $"{entry.Name} {entry.Value}";
                if (text.Contains($":{siloPort}", StringComparison.Ordinal) && (text.Contains("\"Status\":6", StringComparison.Ordinal) || text.Contains("\"Status\":\"Dead\"", StringComparison.Ordinal))) return true;
            }
        }
        return false;
    }

    /// <summary>Server processes with a supervisor: one that exits is started again on the same ports, as Kubernetes restarts a pod.</summary>
    private sealed class Supervised(ITestOutputHelper output, string redis, string clusterId, string[] extra) : IDisposable
    {
        private readonly List<ServerProcess> _running = [], _exited = [];
        private readonly Dictionary<ServerProcess, string> _roles = [];

        public IReadOnlyList<ServerProcess> Running => _running;
        public int Restarts { get; private set; }
        public List<int> ExitCodes { get; } = [];
        public string ExitedOutput => string.Join('\n', _exited.Select(p => p.Process.Output));
        public string Output => string.Join('\n', _running.Concat(_exited).Select(p => p.Process.Output));

        public async Task<ServerProcess> StartAsync(string name, string role, int? silo = null, int? gateway = null, int? http = null)
        {
            var server = await ServerProcess.StartAsync(name, role, redis, clusterId, siloPort: silo, gatewayPort: gateway, httpPort: http, extra: extra);
            _running.Add(server);
            _roles[server] = role;
            return server;
        }

        /// <summary>Restarts servers as they exit until <paramref name="done"/>; returns what happened, with times.</summary>
        public async Task<string> SuperviseUntilAsync(Func<bool> done, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            var log = new List<string>();
            while (!done())
            {
                if (clock.Elapsed > timeout) throw new TimeoutException($"waited {timeout.TotalSeconds:F0} s for the servers to restart; {string.Join("; ", log)}\n{Tails()}");
                foreach (var server in _running.Where(s => s.Process.HasExited).ToArray())
                {
                    double exitedAt = clock.Elapsed.TotalSeconds;
                    ExitCodes.Add(server.Process.ExitCode);
                    _running.Remove(server);
                    _exited.Add(server);
                    var restarted = await StartAsync(server.Name, _roles[server], server.SiloPort, server.GatewayPort, server.HttpPort);
                    Restarts++;
                    log.Add($"{server.Name} exited with {server.Process.ExitCode} at {exitedAt:F1} s, restarted and ready at {clock.Elapsed.TotalSeconds:F1} s");
                    _ = restarted;
                }
                await Task.Delay(100);
            }
            return string.Join('\n', log);
        }

        /// <summary>The coordinators' and watchdogs' lines about the run and the cluster, from every server.</summary>
        public string KeyLines() => string.Join('\n', _running.Concat(_exited).SelectMany(p => p.Process.Output.Split('\n')
            .Where(l => l.Contains("Run ", StringComparison.Ordinal) || l.Contains("watchdog", StringComparison.Ordinal) || l.Contains("stands down", StringComparison.Ordinal))
            .Select(l => $"{p.Name}: {l.Trim()}")));

        public string Tails() => string.Join('\n', _running.Concat(_exited).Select(p => p.Process.Tail(25)));

        public void Dispose()
        {
            foreach (var server in _running.Concat(_exited)) server.Dispose();
            output.WriteLine($"{_running.Count} servers stopped.");
        }
    }
}
