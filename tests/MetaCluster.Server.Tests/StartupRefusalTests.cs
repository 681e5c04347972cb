using System.Diagnostics;
using Xunit.Abstractions;

namespace MetaCluster.Server.Tests;

/// <summary>redis-server and one running worker, shared by the tests that try to start a second server beside it.</summary>
public sealed class RunningWorker : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;
    public ServerProcess Worker { get; private set; } = null!;
    public string ClusterId { get; } = $"rf-{Guid.NewGuid():N}"[..12];

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        Worker = await ServerProcess.StartAsync("worker-1", "worker", Redis.Configuration, ClusterId);
    }

    public async Task DisposeAsync()
    {
        Worker?.Dispose();
        if (Redis is not null) await Redis.DisposeAsync();
    }
}

/// <summary>
/// What a real cluster gets wrong at start — a port of a running server, a wrong Redis password, an unreachable Redis,
/// a wrong cluster id — and how the server answers: one error line and exit code 2, never the eviction of a live silo.
/// </summary>
public sealed class StartupRefusalTests(RunningWorker running, ITestOutputHelper output) : IClassFixture<RunningWorker>
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("--silo-port")]
    [InlineData("--gateway-port")]
    [InlineData("--http-port")]
    public async Task A_second_server_on_a_running_servers_port_refuses_to_start_and_the_running_one_stays(string flag)
    {
        var first = running.Worker;
        int port = flag switch { "--silo-port" => first.SiloPort, "--gateway-port" => first.GatewayPort, _ => first.HttpPort };
        var clock = Stopwatch.StartNew();
        using var second = await ServerProcess.StartAsync("worker-2", "worker", running.Redis.Configuration, running.ClusterId, ready: false,
            siloPort: flag == "--silo-port" ? port : null, gatewayPort: flag == "--gateway-port" ? port : null, httpPort: flag == "--http-port" ? port : null);
        string error = await RefusedAsync(second.Process);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {error}");
        Assert.Equal($"error: port {port} ({flag}) is already in use on 127.0.0.1; choose another port or stop the process that holds it.", error);

        // The running worker was not told it is dead: still there, healthy, and still the cluster's active silo.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(first.Process.HasExited, first.Process.Tail());
        Assert.Equal(200, await first.StatusOf("/healthz"));
        Assert.Equal(200, await first.StatusOf("/readyz"));
        Assert.DoesNotContain("I have been told I am dead", first.Process.Output);
    }

    [Fact]
    public async Task A_bulk_port_another_process_holds_is_one_error_line_and_exit_code_2()
    {
        using var holder = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        holder.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        holder.Listen();
        int port = ((System.Net.IPEndPoint)holder.LocalEndPoint!).Port;
        using var second = await ServerProcess.StartAsync("worker-3", "worker", running.Redis.Configuration, running.ClusterId, ready: false,
            extra: ["--bulk-port", port.ToString()]);
        string error = await RefusedAsync(second.Process);
        Assert.Equal($"error: port {port} (--bulk-port) is already in use on 127.0.0.1; choose another port or stop the process that holds it.", error);
    }

    [Fact]
    public async Task A_wrong_Redis_password_is_one_error_line_and_exit_code_2()
    {
        string wrong = $"127.0.0.1:{running.Redis.Port},password=not-{running.Redis.Password}";
        var clock = Stopwatch.StartNew();
        using var server = await ServerProcess.StartAsync("worker-2", "worker", wrong, running.ClusterId, ready: false);
        string error = await RefusedAsync(server.Process);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {error}");
        Assert.StartsWith($"error: Redis at 127.0.0.1:{running.Redis.Port} refused this server's credentials", error);
        Assert.Contains("WRONGPASS", error);
        Assert.DoesNotContain(running.Redis.Password, error);
    }

    [Fact]
    public async Task An_unreachable_Redis_is_one_error_line_and_exit_code_2_after_the_connect_timeout()
    {
        int nothing = ChildProcess.FreePort();
        var clock = Stopwatch.StartNew();
        using var server = await ServerProcess.StartAsync("worker-2", "worker", $"127.0.0.1:{nothing}", running.ClusterId, ready: false,
            extra: ["--redis-connect-timeout", "2"]);
        string error = await RefusedAsync(server.Process);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: {error}");
        Assert.Equal($"error: Redis at 127.0.0.1:{nothing} (--redis) did not answer within 2 s: connection refused. Check the address and that Redis is running.", error);
    }

    [Fact]
    public async Task A_server_with_another_cluster_id_says_which_cluster_it_formed_and_names_the_running_one()
    {
        string other = $"{running.ClusterId}-typo";
        using var server = await ServerProcess.StartAsync("worker-2", "worker", running.Redis.Configuration, other);
        string line = await Poll.UntilAsync("the cluster line", () => Task.FromResult(server.Process.Output.Split('\n').FirstOrDefault(l => l.Contains($"cluster id {other},"))),
            l => l is not null, TimeSpan.FromSeconds(30), server.Process);
        output.WriteLine(line);
        Assert.Contains($"cluster id {other}, service id metacluster: 1 silo active (worker-2 127.0.0.1:{server.SiloPort})", line);
        Assert.Contains($"under other cluster ids: {running.ClusterId} (1 silo active", line);
        Assert.Contains("warn: MetaCluster.Server.ClusterReport", server.Process.Output);
        server.Process.Terminate();
        Assert.True(await server.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)), server.Process.Tail());
    }

    /// <summary>Waits for the exit, asserts code 2 and a single line of output without a stack trace, and returns that line.</summary>
    private static async Task<string> RefusedAsync(ChildProcess process)
    {
        Assert.True(await process.WaitForExitAsync(ExitTimeout), process.Tail());
        var lines = process.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(process.ExitCode == 2 && lines.Length == 1, $"exit code {process.ExitCode}, {lines.Length} lines.\n{process.Tail()}");
        return lines[0];
    }
}
