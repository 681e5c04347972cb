using System.Collections.Concurrent;
using MetaCluster.Grains.Worker;

namespace MetaCluster.Cluster.Tests;

/// <summary>
/// The fault seam every test silo shares (they live in one process): a test registers a behaviour for its own run
/// id, so tests sharing a cluster cannot disturb each other.
/// </summary>
public sealed class TestFaults : IEpisodeFaultInjector
{
    public static TestFaults Instance { get; } = new();
    private readonly ConcurrentDictionary<string, Action<EpisodeWork>> _behaviours = new();

    public void For(string runId, Action<EpisodeWork> behaviour) => _behaviours[runId] = behaviour;

    public void BeforeEpisode(EpisodeWork work)
    {
        if (_behaviours.TryGetValue(work.RunId, out var behaviour)) behaviour(work);
    }
}

public sealed class InjectedEpisodeFault(string message) : Exception(message);

/// <summary>The federated slots' fault seam, shared like <see cref="TestFaults"/>: a behaviour per simulation id.</summary>
public sealed class TestClientFaults : MetaCluster.Grains.Federated.IClientFaultInjector
{
    public static TestClientFaults Instance { get; } = new();
    private readonly ConcurrentDictionary<string, Action<MetaCluster.Grains.Federated.ClientWork>> _behaviours = new();

    public void For(string runId, Action<MetaCluster.Grains.Federated.ClientWork> behaviour) => _behaviours[runId] = behaviour;

    public void BeforeClient(MetaCluster.Grains.Federated.ClientWork work)
    {
        if (_behaviours.TryGetValue(work.RunId, out var behaviour)) behaviour(work);
    }
}
