using Microsoft.Extensions.Hosting;
using Orleans.Runtime;

namespace MetaCluster.Server;

/// <summary>
/// /readyz: ready once the silo has joined the cluster and is active, not ready again from the moment shutdown begins
/// (so Kubernetes takes the pod out of the Service before the silo leaves).
/// </summary>
internal sealed class SiloReadiness(IHostApplicationLifetime lifetime) : ILifecycleParticipant<ISiloLifecycle>
{
    private volatile bool _active;

    public bool IsReady => _active && !lifetime.ApplicationStopping.IsCancellationRequested;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloReadiness), ServiceLifecycleStage.Active,
            _ => { _active = true; return Task.CompletedTask; },
            _ => { _active = false; return Task.CompletedTask; });
}
