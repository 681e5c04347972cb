using System.Diagnostics;

namespace MetaCluster.Server.Tests;

/// <summary>The server process on its own: settings errors, health endpoints, and a graceful stop on SIGTERM.</summary>
public sealed class ServerProcessTests
{
    [Theory]
    [InlineData("--role nonsense", "--role must be coordinator, worker or all (got 'nonsense')")]
    [InlineData("--role worker", "a worker server joins a cluster through Redis: pass --redis")]
    [InlineData("--role all --slots 0", "--slots must be at least 1 on a worker (got 0)")]
    [InlineData("--role all --silo-port 70000", "--silo-port must be a TCP port, 1 to 65535 (got 70000)")]
    [InlineData("--role all --device gpu", "--device: 'gpu' is not a device: use cpu, cuda (the first GPU) or cuda:N")]
    [InlineData("--role all --bulk-port 70000", "--bulk-port must be 0 (any free port) or a TCP port, 1 to 65535 (got 70000)")]
    [InlineData("--role all --bulk-port 11111", "--bulk-port must differ from the silo, gateway and HTTP ports (got 11111)")]
    public async Task A_bad_setting_stops_the_server_with_one_clear_error_line(string arguments, string message)
    {
        using var server = new ChildProcess("server", "dotnet", [Paths.Server, .. arguments.Split(' ')]);
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(60)), server.Tail());
        Assert.Equal(2, server.ExitCode);
        Assert.Contains($"error: {message}", server.Output);
    }

    [Fact]
    public async Task It_is_ready_once_joined_reports_not_ready_as_soon_as_shutdown_begins_and_exits_cleanly_on_SIGTERM()
    {
        using var server = await ServerProcess.StartAsync("server", "all", redis: null, clusterId: "health");
        Assert.Equal(200, await server.StatusOf("/healthz"));
        Assert.Equal(200, await server.StatusOf("/readyz"));
        Assert.Equal(404, await server.StatusOf("/anything-else"));

        server.Process.Terminate();
        var seen = new List<int>();
        var watch = Stopwatch.StartNew();
        while (!server.Process.HasExited && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            int status = await server.StatusOf("/readyz");
            if (seen.Count == 0 || seen[^1] != status) seen.Add(status);
            await Task.Delay(10);
        }
        Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)), server.Process.Tail());
        Assert.Equal(0, server.Process.ExitCode);
        // Readiness drops (503) while the silo leaves the cluster, before the HTTP endpoint goes away (0).
        Assert.Contains(503, seen);
        Assert.DoesNotContain(200, seen.SkipWhile(s => s == 200));
    }
}
