using System.Diagnostics;

namespace MetaCluster.Server.Tests;

/// <summary>One metacluster-server process (dotnet metacluster-server.dll --role …) on loopback ports of its own.</summary>
public sealed class ServerProcess : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private ServerProcess(ChildProcess process, string name, int siloPort, int gatewayPort, int httpPort) =>
        (Process, Name, SiloPort, GatewayPort, HttpPort) = (process, name, siloPort, gatewayPort, httpPort);

    public ChildProcess Process { get; }
    public string Name { get; }
    public int SiloPort { get; }
    public int GatewayPort { get; }
    public int HttpPort { get; }
    public string MetricsUrl => $"http://127.0.0.1:{HttpPort}/metrics";

    /// <summary>Orleans' parsable silo address starts with this (the generation follows the '@').</summary>
    public string SiloPrefix => $"127.0.0.1:{SiloPort}@";

    /// <summary>Starts the process; <paramref name="ready"/> waits for /readyz to answer 200.</summary>
    public static async Task<ServerProcess> StartAsync(string name, string role, string? redis, string clusterId, bool ready = true,
        int? siloPort = null, int? gatewayPort = null, int? httpPort = null, params string[] extra)
    {
        var (silo, gateway, http) = (siloPort ?? ChildProcess.FreePort(), gatewayPort ?? ChildProcess.FreePort(), httpPort ?? ChildProcess.FreePort());
        var arguments = new List<string>
        {
            Paths.Server, "--role", role, "--name", name, "--cluster-id", clusterId, "--advertised-ip", "127.0.0.1",
            "--silo-port", silo.ToString(), "--gateway-port", gateway.ToString(), "--http-port", http.ToString(), "--threads", "1",
            "--shutdown-timeout", "20",
        };
        if (redis is not null) arguments.AddRange(["--redis", redis]);
        arguments.AddRange(extra);
        var server = new ServerProcess(new ChildProcess(name, "dotnet", arguments), name, silo, gateway, http);
        if (ready) await server.WaitReadyAsync(TimeSpan.FromSeconds(90));
        return server;
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (Process.HasExited) throw new InvalidOperationException($"{Name} exited with {Process.ExitCode} before it was ready.\n{Process.Tail()}");
            if (await StatusOf("/readyz") == 200) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds:F0} s.\n{Process.Tail()}");
    }

    /// <summary>The HTTP status of a GET, or 0 when nothing answers.</summary>
    public async Task<int> StatusOf(string path)
    {
        try
        {
            using var response = await Http.GetAsync($"http://127.0.0.1:{HttpPort}{path}");
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    public Task<string> ScrapeAsync() => Http.GetStringAsync(MetricsUrl);

    public void Dispose() => Process.Dispose();
}
