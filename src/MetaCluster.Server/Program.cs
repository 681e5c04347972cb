using MetaCluster.Core.Runtime;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Telemetry;
using MetaCluster.Server;
using MetaCluster.Server.Federation;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using OpenTelemetry.Metrics;
using StackExchange.Redis;

// metacluster-server: one Orleans silo (coordinator, worker or both) with /healthz, /readyz and /metrics.

// Several server processes often share a machine's cores (a local cluster, worker pods on one node). OpenMP threads that
// spin while waiting for work then steal the cores the other processes compute on, which cuts a shared machine's
// throughput several times over (docs/benchmarks.md). Set before libtorch loads.
NativeEnvironment.SetDefault("OMP_WAIT_POLICY", "PASSIVE");
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddCommandLine(args, ServerOptions.Switches.ToDictionary());
ServerOptions server;
FederationHosting? federation;
try
{
    server = ServerOptions.Read(builder.Configuration);
    // The gateway's certificate, key and clients file: read before anything slow starts, so a bad one is refused at once.
    federation = FederationHosting.Load(server);
    // Every role runs libtorch (a coordinator builds the run and its initial θ): fail now, with the loader's real message.
    // A worker on a GPU initialises CUDA first (TorchRuntime): --device cuda without a usable GPU is refused here.
    TorchRuntime.EnsureLoaded(server.Role == ServerRole.Coordinator ? ComputeDevice.Cpu : server.ComputeDevice);
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or StartupRefusal or TorchRuntimeException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

// Before the silo goes near the membership table: a port in use (a second server on a running one's port would evict
// it), Redis refusing the password or not answering, a live silo already at this address — one error line, exit 2.
ConnectionMultiplexer? preflight = null;
try
{
    PortProbe.EnsureFree(server);
    if (server.Redis is not null)
    {
        preflight = await RedisPreflight.ConnectAsync(server.Redis, TimeSpan.FromSeconds(server.RedisConnectTimeout));
        await RedisPreflight.EnsureEndpointNotLiveAsync(preflight, server);
    }
}
catch (StartupRefusal e)
{
    preflight?.Dispose();
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

// Slots compute on their own threads; the silo's messaging and grain turns need the pool to be there at once.
ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
ThreadPool.SetMinThreads(Math.Max(minWorkers, 16 + server.Slots), minIo);

builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.ListenAnyIP(server.HttpPort);
    federation?.Listen(kestrel);
});
federation?.AddServices(builder.Services);
// Orleans' Kubernetes guidance: finish a graceful leave (hand back work, deregister) inside the pod's grace period.
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(server.ShutdownTimeout));
builder.Services.AddSingleton<SiloReadiness>();
builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => new ClusterReport(server,
    services.GetRequiredService<IClusterMembershipService>(), services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value,
    services.GetRequiredService<ILogger<ClusterReport>>(), preflight));
builder.Services.AddHostedService(_ => new ReadinessDrain(TimeSpan.FromSeconds(server.ReadinessDrain)));
builder.Services.AddSingleton(server);
builder.Services.AddHostedService<MembershipWatchdog>();
builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<SiloReadiness>());
builder.UseOrleans(silo =>
{
    if (server.Redis is not null)
        silo.ConfigureEndpoints(server.AdvertisedAddress, server.SiloPort, server.GatewayPort, listenOnAnyHostAddress: true);
    if (server.Name is { } name) silo.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = name);
    silo.AddMetaCluster(server.Apply);
});
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
    .AddMeter("Microsoft.Orleans", MetaClusterMetrics.MeterName)
    .AddPrometheusExporter());

var app = builder.Build();
app.MapGet("/healthz", () => Results.Text("ok\n"));
app.MapGet("/readyz", (SiloReadiness readiness) => readiness.IsReady ? Results.Text("ready\n") : Results.Text("not ready\n", statusCode: 503));
app.MapPrometheusScrapingEndpoint("/metrics");
if (federation is not null)
{
    federation.Map(app);
    app.Logger.LogInformation("Federation gateway on port {Port} (gRPC over TLS): {Clients} client(s) in the clients file.", server.FederationPort, federation.ClientCount);
}
try
{
    await app.RunAsync();
}
catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    // Taken between the port probe and Kestrel's bind (see PortProbe on that race): still one line, not a stack trace.
    Console.Error.WriteLine($"error: port {server.HttpPort} (--http-port) is already in use; choose another port or stop the process that holds it.");
    return 2;
}
return 0;
