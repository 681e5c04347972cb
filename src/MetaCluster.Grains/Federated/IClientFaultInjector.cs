namespace MetaCluster.Grains.Federated;

/// <summary>Where a worker slot is about to compute a simulated client's update.</summary>
public sealed record ClientWork(string RunId, long Round, int Attempt, string ClientId, string Worker);

/// <summary>
/// A seam for fault tests: called on the slot's compute thread before each client; throwing makes that client count
/// as failed in the round (as a real client that errors). Production silos use <see cref="NoClientFaults"/>.
/// </summary>
public interface IClientFaultInjector
{
    void BeforeClient(ClientWork work);
}

public sealed class NoClientFaults : IClientFaultInjector
{
    public void BeforeClient(ClientWork work) { }
}
