using System.Net;
using System.Net.Sockets;
using MetaCluster.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetaCluster.Cli.Tests;

/// <summary>
/// A running cluster for the CLI to connect to as a client: one localhost silo in the test process with two worker
/// slots and a known gateway port (static gateway clustering, no Redis needed).
/// </summary>
public sealed class TestSilo : IAsyncLifetime
{
    private IHost? _host;

    public int GatewayPort { get; } = FreePort();
    public string Address => $"127.0.0.1:{GatewayPort}";
    public IGrainFactory Grains => _host!.Services.GetRequiredService<IGrainFactory>();

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo.AddMetaCluster(options =>
        {
            options.LocalhostClustering = true;
            (options.SiloPort, options.GatewayPort) = (FreePort(), GatewayPort);
            options.Slots = 2;
            options.TorchThreads = 1;
        }));
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is null) return;
        await _host.StopAsync();
        _host.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
