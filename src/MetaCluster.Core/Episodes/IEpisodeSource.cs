namespace MetaCluster.Core.Episodes;

/// <summary>
/// A deterministic generator of few-shot episodes: the same source, spec, index and seed give the same tensors,
/// bit for bit, on any machine and in any order of calls.
/// </summary>
public interface IEpisodeSource
{
    /// <summary>A short description for logs and checkpoints, e.g. "omniglot/maml-train (4800 classes)".</summary>
    string Name { get; }

    TaskKind Kind { get; }

    /// <summary>Shape of one input example, e.g. [1] for sinusoid points, [1, 28, 28] for images.</summary>
    IReadOnlyList<long> InputShape { get; }

    /// <summary>Throws an <see cref="ArgumentException"/> that names the problem if this source cannot serve the spec.</summary>
    void Validate(EpisodeSpec spec);

    /// <summary>Samples the episode with the given index; <paramref name="seed"/> is that episode's own seed.</summary>
    Episode Sample(EpisodeSpec spec, long index, ulong seed);
}
