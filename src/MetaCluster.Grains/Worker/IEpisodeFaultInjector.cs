namespace MetaCluster.Grains.Worker;

/// <summary>Where a worker is about to compute an episode.</summary>
public sealed record EpisodeWork(string RunId, long Round, long Episode, string Worker, string SiloName);

/// <summary>
/// A seam for fault tests: called on the worker's compute thread before each episode; throwing makes that episode
/// fail on this worker, blocking makes the worker slow. Production silos use <see cref="NoEpisodeFaults"/>.
/// </summary>
public interface IEpisodeFaultInjector
{
    void BeforeEpisode(EpisodeWork work);
}

public sealed class NoEpisodeFaults : IEpisodeFaultInjector
{
    public void BeforeEpisode(EpisodeWork work) { }
}
