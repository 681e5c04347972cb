using System.Net.Sockets;

namespace MetaCluster.Server.Tests;

/// <summary>A real redis-server on loopback, password-protected as the Helm chart's, with nothing saved to disk.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private RedisServer(ChildProcess process, int port, string password) => (_process, Port, Password) = (process, port, password);

    public int Port { get; }
    public string Password { get; }
    public string Configuration => $"127.0.0.1:{Port},password={Password}";

    public static async Task<RedisServer> StartAsync()
    {
        string redis = Paths.Tool("redis-server", "redis-server");
        int port = ChildProcess.FreePort();
        string password = Guid.NewGuid().ToString("N");
        var process = new ChildProcess("redis-server", redis,
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no"]);
        var server = new RedisServer(process, port, password);
        for (int attempt = 0; attempt < 100; attempt++)
        {
            if (process.HasExited) throw new InvalidOperationException($"redis-server exited at start.\n{process.Tail()}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        process.Dispose();
        throw new TimeoutException($"redis-server did not listen on {port} within 5 s.\n{process.Tail()}");
    }

    public ValueTask DisposeAsync()
    {
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
