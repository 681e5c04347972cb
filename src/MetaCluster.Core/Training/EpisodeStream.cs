using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Training;

/// <summary>
/// A numbered, reproducible stream of episodes: episode i of stream s in a run with seed r is always the same
/// tensors, whoever samples it and in whatever order — the basis for computing a round on any worker.
/// </summary>
public sealed class EpisodeStream(IEpisodeSource source, EpisodeSpec spec, ulong runSeed, long streamId)
{
    public const long Training = 1, Evaluation = 2, Validation = 3;

    public IEpisodeSource Source { get; } = source;
    public EpisodeSpec Spec { get; } = spec;

    public Episode Sample(long index) =>
        Source.Sample(Spec, index, DeterministicRandom.DeriveSeed(runSeed, streamId, index));

    /// <summary>The episode indices of a round: metaBatch consecutive numbers starting at round·metaBatch.</summary>
    public static long[] RoundEpisodes(long round, int metaBatch) =>
        Enumerable.Range(0, metaBatch).Select(i => round * metaBatch + i).ToArray();
}
