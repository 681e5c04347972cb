using MetaCluster.Contracts;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MetaCluster.Grains.Telemetry;

/// <summary>
/// The "MetaCluster" meter: what a training run does, for OpenTelemetry's Prometheus exporter. Instrument names and
/// units are chosen so the exporter writes Prometheus-style names (metacluster_rounds_completed_total,
/// metacluster_round_duration_seconds, …). Labels are run_id and algorithm (plus phase=pre|post): bounded by the runs a
/// process has seen, never per episode or per worker.
/// </summary>
public sealed class MetaClusterMetrics : IDisposable
{
    public const string MeterName = "MetaCluster";

    /// <summary>Seconds: rounds take milliseconds (sinusoid) to minutes (big image models).</summary>
    private static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly Meter _meter;
    private readonly Counter<long> _rounds, _episodes, _redispatched, _failedRounds, _contributionBytes, _recoveries, _preSumFallbacks, _checkpointWriteFailures;
    private readonly Histogram<double> _roundDuration, _roundPart, _innerLoop;
    private readonly ConcurrentDictionary<string, RunGauges> _runs = new();

    public MetaClusterMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _rounds = _meter.CreateCounter<long>("metacluster.rounds.completed", "{round}", "Meta-training rounds completed (outer steps taken).");
        _episodes = _meter.CreateCounter<long>("metacluster.episodes.completed", "{episode}", "Episodes whose contribution was aggregated.");
        _redispatched = _meter.CreateCounter<long>("metacluster.redispatched_episodes", "{episode}",
            "Episodes dealt to another worker because theirs died, missed its deadline, failed them or handed them back.");
        _failedRounds = _meter.CreateCounter<long>("metacluster.failed_rounds", "{round}", "Rounds that could not complete (the run stopped).");
        _contributionBytes = _meter.CreateCounter<long>("metacluster.contribution", "By", "Bytes of contributions the coordinator received from workers.");
        _recoveries = _meter.CreateCounter<long>("metacluster.coordinator_recoveries", "{recovery}",
            "Runs a coordinator activation took over from its persisted record after the previous one was lost.");
        _preSumFallbacks = _meter.CreateCounter<long>("metacluster.presum_fallbacks", "{share}",
            "Shares a pre-summing worker could not sum in one pass (an episode failed, a value overflowed) and redid episode by episode.");
        _checkpointWriteFailures = _meter.CreateCounter<long>("metacluster.checkpoint.write_failures", "{write}",
            "Checkpoint files the coordinator could not write (the run goes on from the checkpoint in its persisted record).");
        _roundDuration = _meter.CreateHistogram<double>("metacluster.round.duration", "s", "Wall time of one round: dispatch, compute, aggregate, outer step.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _roundPart = _meter.CreateHistogram<double>("metacluster.round.part", "s",
            "A round's wall time by part, from the call whose reply completed it: part=coordinator (dealing, adding the sums, the outer step), " +
            "waiting (before that call was sent: its worker's earlier shares, a redispatch), outside (that call's serialization, wire and queues: " +
            "θ down, the sum up) and worker (inside the callee). The parts' means add up to the round's.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _innerLoop = _meter.CreateHistogram<double>("metacluster.inner_loop.duration", "s", "Worker compute time per episode (adaptation and query evaluation).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _meter.CreateObservableGauge("metacluster.meta_loss", () => Observe(g => g.Loss), description: "Mean query loss of the last round, before (pre) and after (post) adaptation.");
        _meter.CreateObservableGauge("metacluster.query_accuracy", () => Observe(g => g.Accuracy), description: "Mean query accuracy (0–1) of the last round, before and after adaptation.");
        _meter.CreateObservableGauge("metacluster.live_workers", ObserveWorkers, description: "Worker slots that took part in the last round.");
        _meter.CreateObservableGauge("metacluster.checkpoint.age", ObserveCheckpointAge, "s", "Seconds since the run's state was last persisted (checkpoint).");
    }

    public void RoundCompleted(string runId, string algorithm, int episodes, double seconds, double? preLoss, double postLoss,
        double? preAccuracy, double? postAccuracy, int liveWorkers, long contributionBytes)
    {
        var tags = Tags(runId, algorithm);
        _rounds.Add(1, tags);
        _episodes.Add(episodes, tags);
        _roundDuration.Record(seconds, tags);
        _contributionBytes.Add(contributionBytes, tags);
        var g = Gauges(runId, algorithm);
        lock (g)
        {
            (g.PreLoss, g.PostLoss, g.PreAccuracy, g.PostAccuracy, g.LiveWorkers) = (preLoss, postLoss, preAccuracy, postAccuracy, liveWorkers);
        }
    }

    /// <summary>A round's time in its four parts (<see cref="RoundMetrics.Parts"/>), labelled part=coordinator|waiting|outside|worker.</summary>
    public void RoundParts(string runId, string algorithm, RoundParts parts)
    {
        foreach (var (part, seconds) in new[]
                 {
                     ("coordinator", parts.Coordinator), ("waiting", parts.Waiting), ("outside", parts.Outside), ("worker", parts.Worker),
                 })
        {
            var tags = Tags(runId, algorithm);
            tags.Add("part", part);
            _roundPart.Record(seconds, tags);
        }
    }

    /// <summary>
    /// A coordinator took a run on (started or recovered it): its counters are written at 0, so a dashboard or alert
    /// sees "no failures yet" rather than no series at all.
    /// </summary>
    public void RunStarted(string runId, string algorithm)
    {
        var tags = Tags(runId, algorithm);
        _redispatched.Add(0, tags);
        _failedRounds.Add(0, tags);
        _recoveries.Add(0, tags);
        _contributionBytes.Add(0, tags);
        _checkpointWriteFailures.Add(0, tags);
        Gauges(runId, algorithm);
    }

    public void Redispatched(string runId, string algorithm, long episodes)
    {
        if (episodes > 0) _redispatched.Add(episodes, Tags(runId, algorithm));
    }

    /// <summary>A worker's summed pass over a share failed and the share is redone episode by episode.</summary>
    public void PreSumFallback(string runId, string algorithm) => _preSumFallbacks.Add(1, Tags(runId, algorithm));

    public void CheckpointWriteFailed(string runId, string algorithm) => _checkpointWriteFailures.Add(1, Tags(runId, algorithm));

    public void RoundFailed(string runId, string algorithm) => _failedRounds.Add(1, Tags(runId, algorithm));

    public void Recovered(string runId, string algorithm) => _recoveries.Add(1, Tags(runId, algorithm));

    public void Persisted(string runId, string algorithm)
    {
        var g = Gauges(runId, algorithm);
        lock (g) g.PersistedAt = Stopwatch.GetTimestamp();
    }

    /// <summary>A worker computed <paramref name="episodes"/> episodes in <paramref name="seconds"/>: one sample per episode.</summary>
    public void EpisodesComputed(string algorithm, int episodes, double seconds)
    {
        if (episodes <= 0) return;
        var tags = new TagList { { "algorithm", algorithm } };
        double each = seconds / episodes;
        for (int i = 0; i < episodes; i++) _innerLoop.Record(each, tags);
    }

    /// <summary>
    /// The run ended: it has no workers and no checkpoint age any more; its last loss and accuracy stay visible (a
    /// dashboard shows where a run ended), bounded by the runs this process coordinated.
    /// </summary>
    public void RunEnded(string runId)
    {
        if (!_runs.TryGetValue(runId, out var g)) return;
        lock (g) (g.LiveWorkers, g.PersistedAt) = (0, null);
    }

    public void Dispose() => _meter.Dispose();

    private static TagList Tags(string runId, string algorithm) => new() { { "run_id", runId }, { "algorithm", algorithm } };

    private RunGauges Gauges(string runId, string algorithm) => _runs.GetOrAdd(runId, _ => new RunGauges(algorithm));

    private IEnumerable<Measurement<double>> Observe(Func<RunGauges, (double? Pre, double? Post)> pick)
    {
        foreach (var (runId, g) in _runs)
        {
            (double? pre, double? post) values;
            lock (g) values = pick(g);
            if (values.pre is { } pre) yield return new(pre, Tags(runId, g.Algorithm).Append("phase", "pre"));
            if (values.post is { } post) yield return new(post, Tags(runId, g.Algorithm).Append("phase", "post"));
        }
    }

    private IEnumerable<Measurement<int>> ObserveWorkers()
    {
        foreach (var (runId, g) in _runs)
            yield return new(g.LiveWorkers, Tags(runId, g.Algorithm));
    }

    private IEnumerable<Measurement<double>> ObserveCheckpointAge()
    {
        foreach (var (runId, g) in _runs)
            if (g.PersistedAt is { } at) yield return new(Stopwatch.GetElapsedTime(at).TotalSeconds, Tags(runId, g.Algorithm));
    }

    private sealed class RunGauges(string algorithm)
    {
        public string Algorithm { get; } = algorithm;
        public double? PreLoss, PostLoss, PreAccuracy, PostAccuracy;
        public int LiveWorkers;
        public long? PersistedAt;
        public (double?, double?) Loss => (PreLoss, PostLoss);
        public (double?, double?) Accuracy => (PreAccuracy, PostAccuracy);
    }
}

internal static class TagListExtensions
{
    public static TagList Append(this TagList tags, string key, object? value)
    {
        var copy = tags;
        copy.Add(key, value);
        return copy;
    }
}
