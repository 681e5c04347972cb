namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// How a round waits, once every worker it had is gone, for workers to join: <see cref="Wait"/> returns live workers
/// not in the excluded set, or none when <see cref="Timeout"/> passed first.
/// </summary>
internal sealed record WorkerWait(TimeSpan Timeout, Func<IReadOnlySet<string>, Task<IReadOnlyList<string>>> Wait);
