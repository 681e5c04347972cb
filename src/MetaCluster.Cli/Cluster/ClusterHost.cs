using System.Net;
using System.Net.Sockets;
using MetaCluster.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace MetaCluster.Cli.Cluster;

/// <summary>The cluster a command talks to: a silo embedded in this process, or a client connection to a running cluster.</summary>
public sealed class ClusterHost : IAsyncDisposable
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);
    public static readonly TimeSpan GatewayListRefresh = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private readonly IHost _host;

    private ClusterHost(IHost host, string description, string address, bool embedded)
    {
        _host = host;
        Address = address;
        Description = description;
        Embedded = embedded;
        Grains = host.Services.GetRequiredService<IGrainFactory>();
    }

    public IGrainFactory Grains { get; }
    public string Description { get; }

    /// <summary>What to pass to --cluster to reach this cluster from another process.</summary>
    public string Address { get; }
    public bool Embedded { get; }

    /// <summary>
    /// Starts a localhost silo in this process with <paramref name="workers"/> worker slots — the same wiring
    /// (AddMetaCluster) as a server silo, with in-memory grain storage. Ports are free ones unless given.
    /// </summary>
    public static async Task<ClusterHost> StartEmbeddedAsync(int workers, int torchThreads, int? gatewayPort,
        Action<IServiceCollection>? services = null, Core.Runtime.ComputeDevice? device = null)
    {
        if (workers < 1) throw new ArgumentException($"--workers must be at least 1 (got {workers}).");
        if (gatewayPort is < 1 or > 65535) throw new ArgumentException($"--gateway-port must be a TCP port, 1 to 65535 (got {gatewayPort}).");
        int gateway = gatewayPort ?? FreePort();
        // The silo, the client and the command share this process's thread pool; with the pool's default minimum (one
        // thread a core) the silo's work waits for the pool to grow, which costs seconds per round at start on a small
        // machine (docs/benchmarks.md). Slots compute on their own threads (ComputeThread).
        ThreadPool.GetMinThreads(out int minWorkerThreads, out int minIoThreads);
        ThreadPool.SetMinThreads(Math.Max(minWorkerThreads, 16 + workers), minIoThreads);
        var builder = NewBuilder();
        services?.Invoke(builder.Services);
        builder.UseOrleans(silo => silo.AddMetaCluster(options =>
        {
            options.LocalhostClustering = true;
            options.SiloPort = FreePort();
            options.GatewayPort = gateway;
            options.Slots = workers;
            options.TorchThreads = torchThreads;
            options.Device = device ?? Core.Runtime.ComputeDevice.Cpu;
        }));
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch (Exception e) when (e is SocketException or IOException || e.InnerException is SocketException)
        {
            host.Dispose();
            throw new ClusterUnavailableException($"cannot start the embedded silo (gateway port {gateway}): {e.Message}");
        }
        string slots = workers == 1 ? "1 worker slot" : $"{workers} worker slots";
        return new ClusterHost(host, $"embedded silo ({slots})", $"localhost:{gateway}", embedded: true);
    }

    /// <summary>Connects as a client (no silo here) to the cluster <paramref name="address"/> names.</summary>
    public static async Task<ClusterHost> ConnectAsync(ClusterAddress address, string serviceId, string clusterId)
    {
        // The Orleans client keeps retrying a gateway that refuses connections until its start is cancelled; a plain
        // TCP probe tells "nothing listens there" at once.
        if (!address.IsRedis && !await AnyGatewayListens(address.Gateways))
            throw new ClusterUnavailableException(
                $"cannot connect to the cluster at {address}: no silo gateway accepts connections there. Check the address and that the silos are up.");
        var builder = NewBuilder();
        builder.UseOrleansClient(client =>
        {
            if (address.RedisConfiguration is { } redis) client.UseRedisClustering(redis);
            else client.UseStaticClustering([.. address.Gateways]);
            client.Configure<ClusterOptions>(options => (options.ServiceId, options.ClusterId) = (serviceId, clusterId));
            // A gateway whose silo froze or died keeps its TCP connection open: the client learns it is gone from the
            // gateway list (Redis: the active silos), re-read every GatewayListRefresh instead of every minute.
            client.Configure<GatewayOptions>(options => options.GatewayListRefreshPeriod = GatewayListRefresh);
        });
        var host = builder.Build();
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        try
        {
            await host.StartAsync(timeout.Token);
        }
        catch (Exception e)
        {
            host.Dispose();
            string why = e is OperationCanceledException ? $"no answer within {ConnectTimeout.TotalSeconds:F0} s" : e.Message;
            throw new ClusterUnavailableException(
                $"cannot connect to the cluster at {address} (service id '{serviceId}', cluster id '{clusterId}'): {why}. " +
                "Check that its silos are up and that --service-id/--cluster-id match theirs.");
        }
        return new ClusterHost(host, $"cluster {address}", address.Text, embedded: false);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Leaving a cluster must not turn a finished run into an error.
        }
        _host.Dispose();
    }

    private static HostApplicationBuilder NewBuilder()
    {
        // No default logging (stdout carries tables or the one JSON line) and no console lifetime: Ctrl+C is the
        // command's (StopSignal), which cancels the run on the cluster instead of tearing the host down.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IHostLifetime, CommandLifetime>();
        return builder;
    }

    private static async Task<bool> AnyGatewayListens(IReadOnlyList<IPEndPoint> gateways)
    {
        foreach (var gateway in gateways)
        {
            using var socket = new Socket(gateway.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try
            {
                await socket.ConnectAsync(gateway, timeout.Token);
                return true;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // try the next one
            }
        }
        return false;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class CommandLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>The cluster cannot be reached or started; the message says where and what to check.</summary>
public sealed class ClusterUnavailableException(string message) : Exception(message);
