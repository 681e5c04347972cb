namespace MetaCluster.Grains.Federated;

/// <summary>Where a worker slot is about to compute a simulated client's update (what its <see cref="Worker.IFaultInjector{TWork}"/> is shown).</summary>
public sealed record ClientWork(string RunId, long Round, int Attempt, string ClientId, string Worker);
