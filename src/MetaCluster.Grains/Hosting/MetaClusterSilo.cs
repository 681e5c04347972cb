using System.Globalization;
using MetaCluster.Grains.Bulk;
using MetaCluster.Grains.Federated;
using MetaCluster.Grains.Placement;
using MetaCluster.Grains.Telemetry;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace MetaCluster.Grains.Hosting;

/// <summary>
/// The one piece of silo wiring every host calls — the server process, the CLI's embedded silo and the tests — so
/// all of them place, time out and detect failures the same way.
/// </summary>
public static class MetaClusterSilo
{
    /// <summary>Grain storage for the coordinators' run records: Redis on a server cluster, in memory otherwise.</summary>
    public const string StorageName = "metacluster";

    public static ISiloBuilder AddMetaCluster(this ISiloBuilder builder, Action<MetaClusterSiloOptions>? configure = null)
    {
        var options = new MetaClusterSiloOptions();
        configure?.Invoke(options);
        return builder.AddMetaCluster(options);
    }

    public static ISiloBuilder AddMetaCluster(this ISiloBuilder builder, MetaClusterSiloOptions options)
    {
        options.Validate();
        if (options.LocalhostClustering) builder.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
        if (options.Redis is { } redis)
        {
            // One configuration for the three: membership, the coordinators' run records, and their recovery reminders.
            var configuration = ConfigurationOptions.Parse(redis);
            builder.UseRedisClustering(o => o.ConfigurationOptions = configuration);
            builder.AddRedisGrainStorage(StorageName, o => o.ConfigurationOptions = configuration);
            builder.UseRedisReminderService(o => o.ConfigurationOptions = configuration);
            builder.Configure<ClusterOptions>(o => (o.ServiceId, o.ClusterId) = (options.ServiceId, options.ClusterId));
        }
        else
        {
            builder.AddMemoryGrainStorage(StorageName);
            builder.UseInMemoryReminderService();
        }

        // What this silo offers, for the placement filters here and the coordinator's worker directory.
        builder.UseSiloMetadata(new Dictionary<string, string>
        {
            [SiloMetadataKeys.Worker] = options.Worker ? "true" : "false",
            [SiloMetadataKeys.Slots] = (options.Worker ? options.Slots : 0).ToString(CultureInfo.InvariantCulture),
            [SiloMetadataKeys.Device] = options.Device.Name,
            [SiloMetadataKeys.Coordinator] = options.Coordinator ? "true" : "false",
        });
        builder.Services.AddPlacementFilter<WorkerSiloPlacementFilterStrategy, WorkerSiloPlacementFilterDirector>(ServiceLifetime.Singleton);
        builder.Services.AddPlacementFilter<CoordinatorSiloPlacementFilterStrategy, CoordinatorSiloPlacementFilterDirector>(ServiceLifetime.Singleton);
        builder.AddPlacementDirector<WorkerSlotPlacement, WorkerSlotPlacementDirector>();

        builder.Configure<ClusterMembershipOptions>(membership =>
        {
            membership.ProbeTimeout = options.ProbeTimeout;
            membership.NumMissedProbesLimit = options.NumMissedProbesLimit;
            membership.IAmAliveTablePublishTimeout = options.IAmAlivePeriod;
            membership.NumVotesForDeathDeclaration = options.DeathVotes;
        });

        builder.Configure<DeploymentLoadPublisherOptions>(load => load.DeploymentLoadPublisherRefreshTime = options.LoadStatisticsPeriod);

        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        // Orleans refuses reminder periods below ReminderOptions.MinimumReminderPeriod (1 minute): a shorter recovery
        // period (tests, impatient operators) lowers it.
        builder.Configure<ReminderOptions>(reminders =>
            reminders.MinimumReminderPeriod = TimeSpan.FromTicks(Math.Min(reminders.MinimumReminderPeriod.Ticks, options.RecoveryReminderPeriod.Ticks)));
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<MetaClusterMetrics>();
        builder.Services.TryAddSingleton(typeof(IFaultInjector<>), typeof(NoFaults<>));
        if (options.SimulateEpisode is { } perEpisode) builder.Services.TryAddSingleton<IContributionSource>(new SimulatedContributions(perEpisode));
        builder.Services.TryAddSingleton<IContributionSource, AlgorithmContributions>();
        builder.Services.TryAddSingleton<WorkerDatasets>();
        builder.Services.TryAddSingleton<ShareSumPool>();
        builder.Services.TryAddSingleton<ThetaBuffers>();
        builder.Services.TryAddSingleton<BulkChannel>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<BulkChannel>());
        builder.Services.TryAddSingleton<FederationCache>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, TorchThreadBudget>();
        return builder;
    }
}
