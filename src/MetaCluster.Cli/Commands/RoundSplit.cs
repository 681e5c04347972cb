using MetaCluster.Contracts;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// The medians of a run's round parts (<see cref="RoundMetrics.Parts"/>): the coordinator's own time, waiting before the
/// last reply's call was sent (its worker's earlier shares of the round, a redispatch), that call outside its callee
/// (serialization, the wire and queues, θ down and the partial sum up) and inside the callee.
/// </summary>
public static class RoundSplit
{
    /// <summary>The median of each part over <paramref name="rounds"/> that timed a call (NaN for none).</summary>
    public static RoundParts Medians(IEnumerable<RoundMetrics> rounds)
    {
        var parts = rounds.Select(r => r.Parts()).OfType<RoundParts>().ToArray();
        return new RoundParts(Median(parts.Select(p => p.Coordinator)), Median(parts.Select(p => p.Waiting)),
            Median(parts.Select(p => p.Outside)), Median(parts.Select(p => p.Worker)));
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
