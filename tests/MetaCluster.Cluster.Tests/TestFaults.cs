using System.Collections.Concurrent;
using MetaCluster.Grains.Federated;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// A fault seam every test silo shares (they live in one process): a test registers a behaviour for its own run
/// id, so tests sharing a cluster cannot disturb each other.
/// </summary>
public abstract class RunFaults<TWork>(Func<TWork, string> runIdOf) : IFaultInjector<TWork>
{
    private readonly ConcurrentDictionary<string, Action<TWork>> _behaviours = new();

    public void For(string runId, Action<TWork> behaviour) => _behaviours[runId] = behaviour;

    public void Before(TWork work)
    {
        if (_behaviours.TryGetValue(runIdOf(work), out var behaviour)) behaviour(work);
    }
}

/// <summary>The task workers' fault seam: a behaviour per run id.</summary>
public sealed class TestFaults() : RunFaults<EpisodeWork>(work => work.RunId)
{
    public static TestFaults Instance { get; } = new();
}

public sealed class InjectedEpisodeFault(string message) : Exception(message);

/// <summary>The federated slots' fault seam: a behaviour per simulation id.</summary>
public sealed class TestClientFaults() : RunFaults<ClientWork>(work => work.RunId)
{
    public static TestClientFaults Instance { get; } = new();
}
