namespace MetaCluster.Grains.Worker;

/// <summary>Where a worker is about to compute an episode (what its <see cref="IFaultInjector{TWork}"/> is shown).</summary>
public sealed record EpisodeWork(string RunId, long Round, long Episode, string Worker, string SiloName);
