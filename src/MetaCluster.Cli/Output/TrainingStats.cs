using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Output;

/// <summary>Running figures of a training loop: throughput over the rounds of this process, metrics over the last rounds.</summary>
public sealed class TrainingStats(long startRound, long totalRounds, int metaBatch, int window = 100)
{
    private readonly Queue<RoundReport> _recent = new();
    private readonly TimeSpan _cpuAtStart = Environment.CpuUsage.TotalTime;

    public long StartRound { get; } = startRound;
    public long TotalRounds { get; } = totalRounds;
    public int Window { get; } = window;
    public long Round { get; private set; } = startRound;
    public long RoundsThisRun => Round - StartRound;
    public double Seconds { get; private set; }

    /// <summary>
    /// CPU seconds of the whole process (every thread: silo, GC, libtorch) from when these stats were made to the last
    /// round. On one libtorch thread it is what a quiet machine's clock would show, and it barely moves when other
    /// processes share the cores, so benchmarks on a busy machine compare it (bench/time_to_accuracy.py).
    /// </summary>
    public double CpuSeconds { get; private set; }
    public RoundReport? Last { get; private set; }

    /// <summary>Worker slots that computed the last round, on a cluster; null in process.</summary>
    public int? LiveWorkers { get; set; }

    /// <summary>Episodes handed to another worker after theirs died or timed out (whole run), on a cluster.</summary>
    public long? Redispatched { get; set; }

    public void Add(RoundReport report, double seconds)
    {
        Last = report;
        Round = report.Round + 1;
        Seconds += seconds;
        CpuSeconds = (Environment.CpuUsage.TotalTime - _cpuAtStart).TotalSeconds;
        _recent.Enqueue(report);
        if (_recent.Count > Window) _recent.Dequeue();
    }

    public int RecentCount => _recent.Count;
    public double RoundsPerSecond => Seconds > 0 ? RoundsThisRun / Seconds : 0;
    public double EpisodesPerSecond => RoundsPerSecond * metaBatch;

    public TimeSpan? Remaining => RoundsPerSecond > 0 ? TimeSpan.FromSeconds((TotalRounds - Round) / RoundsPerSecond) : null;

    public double? MeanPreLoss => Mean(r => r.PreLoss);
    public double? MeanPostLoss => Mean(r => r.PostLoss);
    public double? MeanPreAccuracy => Mean(r => r.PreAccuracy);
    public double? MeanPostAccuracy => Mean(r => r.PostAccuracy);

    private double? Mean(Func<RoundReport, double?> pick) =>
        _recent.Count == 0 || _recent.Any(r => pick(r) is null) ? null : _recent.Average(r => pick(r)!.Value);
}
