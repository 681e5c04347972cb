using MetaCluster.Contracts;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// What the coordinator remembers of recent rounds for status and for clients following the run: the last
/// <see cref="Kept"/> rounds' metrics, the last round's report and who took part in it. Not persisted: a new
/// activation starts an empty window.
/// </summary>
internal sealed class RoundWindow
{
    /// <summary>Rounds kept for <see cref="ICoordinatorGrain.GetRounds"/>.</summary>
    public const int Kept = 1000;

    private readonly Queue<RoundMetrics> _rounds = new();

    public RoundReport? Last { get; private set; }
    public int LiveWorkers { get; private set; }
    public string[] Silos { get; private set; } = [];

    /// <summary>Keeps the round's metrics and returns them.</summary>
    public RoundMetrics Add(RoundReport report, int liveWorkers, string[] silos, long contributionBytes, LastReply? last = null, double? dispatchSeconds = null)
    {
        (Last, LiveWorkers, Silos) = (report, liveWorkers, silos);
        var metrics = new RoundMetrics
        {
            Round = report.Round, Episodes = report.Episodes, Seconds = report.Seconds, LearningRate = report.LearningRate,
            PreLoss = report.PreLoss, PostLoss = report.PostLoss, PreAccuracy = report.PreAccuracy, PostAccuracy = report.PostAccuracy,
            ContributionBytes = contributionBytes, LastCallSeconds = last?.CallSeconds, LastWorkerSeconds = last?.WorkerSeconds,
            DispatchSeconds = last is null ? null : dispatchSeconds,
        };
        _rounds.Enqueue(metrics);
        if (_rounds.Count > Kept) _rounds.Dequeue();
        return metrics;
    }

    public RoundMetrics[] From(long round) => _rounds.Where(r => r.Round >= round).ToArray();
}
