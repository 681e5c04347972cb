using Microsoft.Extensions.Hosting;

namespace MetaCluster.Server;

/// <summary>
/// On shutdown, /readyz answers 503 for <see cref="Delay"/> before anything stops (IHostedLifecycleService.StoppingAsync
/// runs ahead of every StopAsync, Kestrel's included): Kubernetes sees the pod unready and takes it out of the Service
/// while the silo can still answer, then the silo leaves the cluster gracefully.
/// </summary>
internal sealed class ReadinessDrain(TimeSpan delay) : IHostedLifecycleService
{
    public TimeSpan Delay { get; } = delay;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.Delay(Delay, cancellationToken);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
