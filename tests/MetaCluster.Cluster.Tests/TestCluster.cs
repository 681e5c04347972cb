using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// Three in-process silos: the primary is coordinator-only (no compute), the two secondaries are worker silos with
/// two slots each. One torch thread per process: the sinusoid MLP's bits do not depend on it anyway.
/// </summary>
public sealed class TestCluster : IAsyncLifetime
{
    public const string CoordinatorSilo = "Silo_0";
    public const string VictimSilo = "Silo_2";
    public const int SlotsPerWorkerSilo = 2;

    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        // The test host otherwise skips placement filters ("homogeneous silos"), which is what is under test here.
        builder.Options.AssumeHomogenousSilosForTesting = false;
        builder.Options.ConfigureFileLogging = false;
        // The client's only gateway is the coordinator-only silo, so killing a worker silo never cuts the test's polling.
        builder.Options.GatewayPerSilo = false;
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            bool coordinatorOnly = silo.SiloName == CoordinatorSilo;
            siloBuilder.AddMetaCluster(options =>
            {
                options.Worker = !coordinatorOnly;
                options.Coordinator = coordinatorOnly;
                options.Slots = SlotsPerWorkerSilo;
                options.TorchThreads = 1;
                // Backstop only: a killed silo's calls fail when membership declares it dead, well before this.
                options.WorkerDeadlineBase = TimeSpan.FromSeconds(20);
                options.WorkerDeadlinePerEpisode = TimeSpan.FromSeconds(2);
            });
            siloBuilder.Services.AddSingleton<IFaultInjector<EpisodeWork>>(TestFaults.Instance);
            siloBuilder.Services.AddSingleton<IContributionSource>(TestContributions.Instance);
            siloBuilder.Services.AddSingleton<IFaultInjector<MetaCluster.Grains.Federated.ClientWork>>(TestClientFaults.Instance);
            siloBuilder.Services.AddSingleton<ILoggerProvider>(TestLog.Instance);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SharedCluster : ICollectionFixture<TestCluster>
{
    public const string Name = "shared cluster";
}
