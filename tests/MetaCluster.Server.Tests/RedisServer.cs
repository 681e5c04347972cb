using System.Net.Sockets;

namespace MetaCluster.Server.Tests;

/// <summary>A real redis-server on loopback, password-protected as the Helm chart's, with nothing saved to disk.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private ChildProcess _process;

    private RedisServer(ChildProcess process, int port, string password) => (_process, Port, Password) = (process, port, password);

    public int Port { get; }
    public string Password { get; }
    public string Configuration => $"127.0.0.1:{Port},password={Password}";

    public static async Task<RedisServer> StartAsync()
    {
        int port = ChildProcess.FreePort();
        string password = Guid.NewGuid().ToString("N");
        var process = Launch(port, password);
        var server = new RedisServer(process, port, password);
        await WaitListening(process, port);
        return server;
    }

    /// <summary>kill -9, then a new redis-server on the same port and password with nothing in it: a store restarted empty.</summary>
    public async Task RestartEmptyAsync()
    {
        _process.Kill();
        _process.Dispose();
        _process = Launch(Port, Password);
        await WaitListening(_process, Port);
    }

    private static ChildProcess Launch(int port, string password) =>
        new("redis-server", Paths.Tool("redis-server", "redis-server"),
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no"]);

    private static async Task WaitListening(ChildProcess process, int port)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            if (process.HasExited) throw new InvalidOperationException($"redis-server exited at start.\n{process.Tail()}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new TimeoutException($"redis-server did not listen on {port} within 5 s.\n{process.Tail()}");
    }

    public ValueTask DisposeAsync()
    {
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
