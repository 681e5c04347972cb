using MetaCluster.Grains;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace MetaCluster.Server.Tests;

/// <summary>The test's own Orleans client of a Redis cluster, to watch a run while the CLI drives it.</summary>
public sealed class ClusterClient : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterClient(IHost host) => (_host, Runs) = (host, new ClusterTrainingClient(host.Services.GetRequiredService<IGrainFactory>()));

    public ClusterTrainingClient Runs { get; }

    public static async Task<ClusterClient> ConnectAsync(string redis, string clusterId)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(redis);
            client.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (Grains.Hosting.MetaClusterSiloOptions.DefaultServiceId, clusterId));
            // As the CLI: a frozen or dead silo's gateway leaves the list within seconds.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
        });
        var host = builder.Build();
        await host.StartAsync();
        return new ClusterClient(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // the cluster may already be gone
        }
        _host.Dispose();
    }
}
