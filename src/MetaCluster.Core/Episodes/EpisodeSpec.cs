namespace MetaCluster.Core.Episodes;

/// <summary>
/// The shape of one few-shot task. <see cref="Shots"/> is K (support examples per class, or support points for
/// regression) and <see cref="Queries"/> is Q (query examples per class, or query points). Ways is 1 for regression.
/// </summary>
public sealed record EpisodeSpec(int Ways, int Shots, int Queries)
{
    public void Validate()
    {
        if (Ways < 1) throw new ArgumentException($"ways must be at least 1 (got {Ways}).");
        if (Shots < 1) throw new ArgumentException($"shots must be at least 1 (got {Shots}).");
        if (Queries < 1) throw new ArgumentException($"queries must be at least 1 (got {Queries}).");
    }
}

public enum TaskKind
{
    Regression,
    Classification,
}
