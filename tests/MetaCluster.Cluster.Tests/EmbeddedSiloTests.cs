using System.Net;
using System.Net.Sockets;
using MetaCluster.Contracts;
using MetaCluster.Grains;
using MetaCluster.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace MetaCluster.Cluster.Tests;

/// <summary>The CLI's embedded default: one localhost silo, coordinator and workers in one process, wired by AddMetaCluster alone.</summary>
public class EmbeddedSiloTests
{
    [Fact]
    public async Task AnEmbeddedLocalhostSiloTrainsOnItsOwnSlotsWithTunedMembership()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo.AddMetaCluster(options =>
        {
            options.LocalhostClustering = true;
            (options.SiloPort, options.GatewayPort) = (FreePort(), FreePort());
            options.Slots = 2;
            options.TorchThreads = 1;
        }));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var membership = host.Services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value;
            Assert.Equal(TimeSpan.FromSeconds(1), membership.ProbeTimeout);
            Assert.Equal(2, membership.NumMissedProbesLimit);

            var config = Reference.Sinusoid("fomaml");
            var client = new ClusterTrainingClient(host.Services.GetRequiredService<IGrainFactory>());
            var result = await client.TrainAsync("embedded", config, following: new RunFollowing { PollInterval = TimeSpan.FromMilliseconds(50) });

            Assert.Equal(RunState.Completed, result.Status.State);
            Assert.Equal(2, result.Status.LiveWorkers);
            Assert.True(Reference.Theta(config, 3).AsSpan().SequenceEqual(result.Theta.Values));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
