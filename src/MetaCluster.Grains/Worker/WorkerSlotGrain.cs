namespace MetaCluster.Grains.Worker;

/// <summary>
/// What a worker-slot grain (a task worker, a federated slot) keeps between calls: its own <see cref="ComputeThread"/>,
/// made on first use and ended when the grain deactivates, and the run it built for the config it last saw, under a
/// key that names that config (its version), so the rounds of one run reuse the warm model and data.
/// </summary>
public abstract class WorkerSlotGrain<TKey, TRun>(string threadName) : Grain where TRun : class
{
    private ComputeThread? _compute;
    private TKey? _key;
    private TRun? _run;

    /// <summary>The slot's compute thread, named "<c>threadName</c> <c>grain key</c>" for thread dumps and profilers.</summary>
    private protected ComputeThread Compute => _compute ??= new ComputeThread($"{threadName} {this.GetPrimaryKeyString()}");

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _compute?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The run built for <paramref name="key"/>, or null when the slot holds another one or none.</summary>
    private protected TRun? Built(TKey key) => _run is not null && EqualityComparer<TKey>.Default.Equals(_key, key) ? _run : null;

    /// <summary>Lets the slot's run go, so that two runs' models and data are never held at once.</summary>
    private protected void Forget() => (_key, _run) = (default, null);

    /// <summary>Builds the run for <paramref name="key"/> on the compute thread — after letting the current one go — and keeps it.</summary>
    private protected async Task<TRun> Build(TKey key, Func<TRun> build)
    {
        Forget();
        var run = await Compute.Run(build);
        (_key, _run) = (key, run);
        return run;
    }
}
