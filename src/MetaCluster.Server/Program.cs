using MetaCluster.Core.Runtime;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Telemetry;
using MetaCluster.Server;
using Orleans.Runtime;
using OpenTelemetry.Metrics;

// metacluster-server: one Orleans silo (coordinator, worker or both) with /healthz, /readyz and /metrics.

// Several server processes often share a machine's cores (a local cluster, worker pods on one node). OpenMP threads that
// spin while waiting for work then steal the cores the other processes compute on, which cuts a shared machine's
// throughput several times over (docs/benchmarks.md). Set before libtorch loads.
NativeEnvironment.SetDefault("OMP_WAIT_POLICY", "PASSIVE");
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddCommandLine(args, ServerOptions.Switches.ToDictionary());
ServerOptions server;
try
{
    server = ServerOptions.Read(builder.Configuration);
    // Every role runs libtorch (a coordinator builds the run and its initial θ): fail now, with the loader's real message.
    TorchRuntime.EnsureLoaded();
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

// Slots compute on their own threads; the silo's messaging and grain turns need the pool to be there at once.
ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
ThreadPool.SetMinThreads(Math.Max(minWorkers, 16 + server.Slots), minIo);

builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenAnyIP(server.HttpPort));
// Orleans' Kubernetes guidance: finish a graceful leave (hand back work, deregister) inside the pod's grace period.
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(server.ShutdownTimeout));
builder.Services.AddSingleton<SiloReadiness>();
builder.Services.AddHostedService(_ => new ReadinessDrain(TimeSpan.FromSeconds(server.ReadinessDrain)));
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
await app.RunAsync();
return 0;
