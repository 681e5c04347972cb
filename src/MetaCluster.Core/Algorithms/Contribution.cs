namespace MetaCluster.Core.Algorithms;

/// <summary>How the outer step reads a contribution.</summary>
public enum ContributionKind
{
    /// <summary>A meta-gradient ∂L_query/∂θ: the outer optimizer descends along it.</summary>
    Gradient,

    /// <summary>A parameter delta θ' − θ (Reptile): the outer step moves θ toward it.</summary>
    Delta,
}

/// <summary>
/// Query-set loss and (for classification) accuracy before and after adaptation on the support set. The "before"
/// figures are null when the algorithm was told not to measure them (they cost one extra query forward pass).
/// </summary>
public sealed record EpisodeMetrics(double? PreLoss, double PostLoss, double? PreAccuracy, double? PostAccuracy);

/// <summary>
/// One episode's contribution to a round, as a flat vector in the algorithm's parameter layout. The episode index
/// makes aggregation independent of which worker computed it and when it arrived.
/// </summary>
public sealed record Contribution(long EpisodeIndex, float[] Values, EpisodeMetrics Metrics);

/// <summary>
/// Receives each episode's contribution as soon as it is computed. <paramref name="values"/> is valid only during the
/// call: its buffer is reused for the next episode, so a caller that keeps it must copy it.
/// </summary>
public delegate void ContributionSink(long episodeIndex, ReadOnlySpan<float> values, EpisodeMetrics metrics);
