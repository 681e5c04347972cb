using MetaCluster.Contracts;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// A round's time in four parts, from the coordinator's metrics of the call whose reply completed it: the coordinator's
/// own (dealing, adding the sums, the outer step: the round less its dispatch), waiting (the dispatch less that call:
/// its worker's earlier shares of the round, a redispatch), outside the callee (serialization, the wire and queues, θ
/// down and the partial sum up) and inside the callee (its share, with a hub's slots and members).
/// </summary>
public sealed record RoundSplit(double Coordinator, double Waiting, double Outside, double Worker)
{
    /// <summary>The median of each part over <paramref name="rounds"/> that timed a call (NaN for none).</summary>
    public static RoundSplit Medians(IEnumerable<RoundMetrics> rounds)
    {
        var called = rounds.Where(r => r is { LastCallSeconds: not null, LastWorkerSeconds: not null, DispatchSeconds: not null }).ToArray();
        return new RoundSplit(
            Median(called.Select(r => Math.Max(0, r.Seconds - r.DispatchSeconds!.Value))),
            Median(called.Select(r => Math.Max(0, r.DispatchSeconds!.Value - r.LastCallSeconds!.Value))),
            Median(called.Select(r => Math.Max(0, r.LastCallSeconds!.Value - r.LastWorkerSeconds!.Value))),
            Median(called.Select(r => r.LastWorkerSeconds!.Value)));
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
