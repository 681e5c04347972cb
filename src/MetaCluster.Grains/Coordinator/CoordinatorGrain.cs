using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Placement;
using MetaCluster.Grains.Telemetry;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Storage;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Owns one run. Commands are answered at once; the rounds run in a background loop on the grain's scheduler, with
/// the math (building the run, the outer step, checkpoints) pushed to the thread pool. The round itself is Core's:
/// episodes from EpisodeStream.RoundEpisodes, aggregation and outer step by MetaTrainer.ApplyRound — so a cluster run
/// gives the single-process trainer's bits whichever workers computed what.
///
/// Recovery: every CheckpointEvery rounds the checkpoint (θ, optimizer state, round) goes into the grain's persisted
/// record, and a reminder is registered while the run is live. When the process hosting this activation dies, the
/// next call (a client polling status) or the reminder's next tick activates the grain on a surviving silo;
/// activation finds a live run in the record and continues it from that checkpoint.
/// </summary>
[KeepAlive, CoordinatorSiloPlacementFilter]
public sealed class CoordinatorGrain(
    [PersistentState("run", MetaClusterSilo.StorageName)] IPersistentState<CoordinatorRecord> record,
    IClusterMembershipService membership, ISiloMetadataCache siloMetadata, MetaClusterMetrics metrics,
    IOptions<MetaClusterSiloOptions> options, IOptions<SiloMessagingOptions> messaging, ILogger<CoordinatorGrain> logger)
    : Grain, ICoordinatorGrain, IRemindable
{
    /// <summary>The reminder that reactivates a live run's coordinator after the silo hosting it died.</summary>
    public const string RecoveryReminder = "metacluster-recover";

    private readonly WorkerDirectory _workers = new(membership, siloMetadata);
    private TrainingConfig? _config;
    private string _configJson = "";
    private TrainingRun? _run;
    private IOuterOptimizer? _optimizer;
    private ParameterSet? _theta;
    private ThetaSnapshot? _snapshot;
    private RunState _state = RunState.NotStarted;
    private long _round;
    private string? _error;
    private RoundReport? _lastRound;
    private FaultCounters _faults = new();
    private int _liveWorkers;
    private string[] _silos = [];
    private long? _checkpointRound;
    private byte[]? _checkpoint;
    private string? _checkpointPath;
    private string? _checkpointDirectory;
    private int _maxWorkers;
    private int _recoveries;
    private TimeSpan _deadlineBase, _deadlinePerEpisode;
    private bool _pauseRequested, _cancelRequested, _loopRunning, _perEpisode, _superseded;
    private readonly Stopwatch _sinceOwnershipCheck = Stopwatch.StartNew();

    /// <summary>How often a running coordinator checks that no other activation has taken its run over.</summary>
    public static readonly TimeSpan OwnershipCheckInterval = TimeSpan.FromSeconds(2);
    private TaskCompletionSource _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<RoundMetrics> _recentRounds = new();

    /// <summary>Rounds kept for <see cref="GetRounds"/>.</summary>
    public const int RecentRoundsKept = 1000;

    private string RunId => this.GetPrimaryKeyString();
    private string Algorithm => _config?.Algorithm ?? "unknown";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A record that says "running" or "paused" with no live loop means the activation that ran it is gone.
        if (record.State is { ConfigJson: not null, State: RunState.Running or RunState.Paused }) _ = Recover();
        return Task.CompletedTask;
    }

    public async Task<RunStatus> Start(StartRunRequest request)
    {
        if (_state is RunState.Running or RunState.Paused)
            throw new InvalidOperationException($"run '{RunId}' is already {_state.ToString().ToLowerInvariant()}; cancel it or use another run id.");
        var deadlineBase = request.WorkerDeadlineBase ?? options.Value.WorkerDeadlineBase;
        var deadlinePerEpisode = request.WorkerDeadlinePerEpisode ?? options.Value.WorkerDeadlinePerEpisode;
        if (deadlineBase <= TimeSpan.Zero || deadlinePerEpisode < TimeSpan.Zero)
            throw new ArgumentException($"worker deadlines must be positive (got {deadlineBase} + {deadlinePerEpisode} per episode).");
        if (request.MaxWorkers < 0) throw new ArgumentException($"max workers is 0 (all) or more (got {request.MaxWorkers}).");
        var config = ConfigJson.Read(request.ConfigJson);
        var (run, optimizer, theta, round) = await Build(config, request.ResumeCheckpoint, "the checkpoint to resume");

        (_config, _configJson, _run, _optimizer, _theta) = (config, request.ConfigJson, run, optimizer, theta);
        (_checkpointDirectory, _maxWorkers) = (options.Value.LocalizeCheckpoints(request.CheckpointDirectory), request.MaxWorkers);
        (_deadlineBase, _deadlinePerEpisode, _perEpisode) = (deadlineBase, deadlinePerEpisode, request.PerEpisodeContributions);
        (_round, _error, _lastRound, _faults, _silos, _recoveries) = (round, null, null, new(), [], 0);
        // A resumed run's starting point is its first recovery point too.
        (_checkpoint, _checkpointRound, _checkpointPath) = (request.ResumeCheckpoint, request.ResumeCheckpoint is null ? null : round, null);
        _recentRounds.Clear();
        (_pauseRequested, _cancelRequested) = (false, false);
        _snapshot = Snapshot();
        _state = RunState.Running;
        metrics.RunStarted(RunId, Algorithm);
        await Persist();
        await RegisterRecoveryReminder();
        _ = RunLoop();
        return Status();
    }

    public Task<RunStatus> GetStatus() => Task.FromResult(Status());

    public async Task<RunStatus> Pause()
    {
        if (_state == RunState.Running)
        {
            _pauseRequested = true;
            await Persist();
        }
        return Status();
    }

    public async Task<RunStatus> Resume()
    {
        bool wasRequested = _pauseRequested;
        _pauseRequested = false;
        _resumed.TrySetResult();
        if (wasRequested) await Persist();
        return Status();
    }

    public Task<RunStatus> Cancel()
    {
        if (_state is RunState.Running or RunState.Paused) _cancelRequested = true;
        _resumed.TrySetResult();
        return Task.FromResult(Status());
    }

    public Task<ThetaSnapshot?> GetTheta() => Task.FromResult(_snapshot);

    public Task<RoundMetrics[]> GetRounds(long fromRound) => Task.FromResult(_recentRounds.Where(r => r.Round >= fromRound).ToArray());

    public Task<byte[]?> GetLatestCheckpoint()
    {
        if (_checkpoint is { } bytes && bytes.Length + MessageSizeGuard.Overhead > messaging.Value.MaxMessageBodySize)
            throw new InvalidOperationException($"the checkpoint ({bytes.Length:N0} bytes) is larger than the message body limit ({messaging.Value.MaxMessageBodySize:N0}); read {_checkpointPath ?? "it from the coordinator's checkpoint directory"} directly.");
        return Task.FromResult(_checkpoint);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Activation already resumed a live run (OnActivateAsync); a reminder left over from a finished run goes.
        if (reminderName == RecoveryReminder && _state is not (RunState.Running or RunState.Paused)) await UnregisterRecoveryReminder();
    }

    /// <summary>The run, optimizer and θ for <paramref name="config"/>, from a checkpoint's bytes or from the seed's initial θ.</summary>
    private async Task<(TrainingRun Run, IOuterOptimizer Optimizer, ParameterSet Theta, long Round)> Build(TrainingConfig config, byte[]? checkpointBytes, string what)
    {
        var run = await Task.Run(() => RunFactory.Create(options.Value.Localize(config)));
        // Before anything is sent: θ must fit one message (RunFactory builds the layout, not the tensors).
        MessageSizeGuard.EnsureFits(run.Algorithm.Layout.TotalCount, messaging.Value.MaxMessageBodySize);
        var optimizer = run.CreateOptimizer();
        if (checkpointBytes is null) return (run, optimizer, await Task.Run(run.InitialParameters), 0);
        // Continue where the checkpoint stopped: its θ, optimizer state and round (the math of MetaTrainer's resume).
        var checkpoint = Checkpoint.FromBytes(checkpointBytes, what);
        if (!checkpoint.Theta.Layout.SameAs(run.Algorithm.Layout))
            throw new CheckpointException($"the checkpoint holds parameters {checkpoint.Theta.Layout.Describe()}, but {run.Algorithm.Name} on {run.Model.Name} needs {run.Algorithm.Layout.Describe()}; resume with the checkpoint's own settings.");
        optimizer.SetState(checkpoint.Optimizer);
        return (run, optimizer, checkpoint.Theta.Clone(), checkpoint.Round);
    }

    /// <summary>Takes over a live run from the persisted record: the previous activation (and maybe its process) is gone.</summary>
    private async Task Recover()
    {
        var r = record.State;
        var watch = Stopwatch.StartNew();
        (_configJson, _checkpointDirectory, _maxWorkers) = (r.ConfigJson!, r.CheckpointDirectory, r.MaxWorkers);
        (_deadlineBase, _deadlinePerEpisode, _perEpisode) = (r.WorkerDeadlineBase, r.WorkerDeadlinePerEpisode, r.PerEpisodeContributions);
        (_checkpoint, _checkpointRound, _checkpointPath) = (r.Checkpoint, r.CheckpointRound, r.CheckpointPath);
        (_faults, _recoveries, _pauseRequested) = (new() { Redispatched = r.Redispatched, Retried = r.Retried }, r.Recoveries + 1, r.PauseRequested);
        (_round, _state) = (r.CheckpointRound ?? 0, RunState.Running);
        try
        {
            _config = ConfigJson.Read(_configJson);
            var (run, optimizer, theta, round) = await Build(_config, r.Checkpoint, $"the persisted checkpoint of run '{RunId}'");
            (_run, _optimizer, _theta, _round) = (run, optimizer, theta, round);
            _snapshot = Snapshot();
        }
        catch (Exception e)
        {
            _error = $"run '{RunId}' could not be recovered from its persisted record: {e.Message}";
            _state = RunState.Failed;
            logger.LogError(e, "Run {RunId} could not be recovered.", RunId);
            await Persist();
            await UnregisterRecoveryReminder();
            return;
        }
        metrics.RunStarted(RunId, Algorithm);
        metrics.Recovered(RunId, Algorithm);
        logger.LogWarning("Run {RunId}: took over from the persisted record at round {Round} (recovery {Recoveries}, {Seconds:F1} s to rebuild); rounds {Round}–{Reached} are recomputed.",
            RunId, _round, _recoveries, watch.Elapsed.TotalSeconds, _round, r.Round);
        await Persist();
        await RegisterRecoveryReminder();
        _ = RunLoop();
    }

    private async Task RunLoop()
    {
        if (_loopRunning) return;
        _loopRunning = true;
        var config = _config!;
        try
        {
            while (_round < config.Iterations && !_cancelRequested)
            {
                if (await Superseded()) return;
                if (_pauseRequested)
                {
                    _state = RunState.Paused;
                    _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    await _resumed.Task;
                    if (_cancelRequested) break;
                    _state = RunState.Running;
                }
                await RunRound();
                if (_round % config.CheckpointEvery == 0) await SaveCheckpoint();
                if (_superseded) return;
            }
            if (_checkpointRound != _round) await SaveCheckpoint();
            if (_superseded) return;
            _state = _cancelRequested ? RunState.Cancelled : RunState.Completed;
        }
        catch (Exception e)
        {
            string kept = _checkpointRound is { } r ? $" The last checkpoint (round {r}{(_checkpointPath is null ? "" : $", {_checkpointPath}")}) is intact." : "";
            _error = $"run '{RunId}' stopped in round {_round}: {e.Message}{kept}";
            _state = RunState.Failed;
            metrics.RoundFailed(RunId, Algorithm);
            logger.LogError(e, "Run {RunId} failed in round {Round}.", RunId, _round);
        }
        finally
        {
            _loopRunning = false;
            if (_superseded) DeactivateOnIdle();
        }
        await Persist();
        await UnregisterRecoveryReminder();
        metrics.RunEnded(RunId);
    }

    private async Task RunRound()
    {
        var watch = Stopwatch.StartNew();
        var (config, run) = (_config!, _run!);
        var episodes = EpisodeStream.RoundEpisodes(_round, config.MetaBatch);
        var workers = await LiveWorkers();
        byte[] theta = _snapshot!.Values;
        string runId = RunId;
        long round = _round, redispatchedBefore = _faults.Redispatched;
        var dispatcher = new RoundDispatcher(
            (worker, share) => GrainFactory.GetGrain<ITaskWorkerGrain>(worker).Contribute(new WorkRequest
            {
                RunId = runId, Round = round, ConfigJson = _configJson, Theta = theta, Episodes = share, PreSum = !_perEpisode,
            }),
            count => _deadlineBase + _deadlinePerEpisode * count,
            MessageSizeGuard.EpisodesPerCall(run.Algorithm.Layout.TotalCount, messaging.Value.MaxMessageBodySize),
            _faults, logger);
        RoundOutcome outcome;
        try
        {
            outcome = await dispatcher.Run(round, workers, episodes);
        }
        finally
        {
            metrics.Redispatched(runId, Algorithm, _faults.Redispatched - redispatchedBefore);
        }

        var episodeMetrics = outcome.Contributions.Select(c => new EpisodeMetrics(c.PreLoss, c.PostLoss, c.PreAccuracy, c.PostAccuracy)).ToArray();
        var (optimizer, parameters) = (_optimizer!, _theta!);
        double learningRate = await Task.Run(() =>
        {
            // Workers' pre-summed shares, plus one share of every episode sent as a vector: the sum is exact, so these
            // are the bits of adding every episode one by one, in any order.
            var shares = outcome.Shares.Select(s => new PartialSum(s.Episodes, ExactSum.FromBytes(s.Sum))).ToList();
            var vectors = outcome.Contributions.Where(c => c.Values.Length > 0).ToArray();
            if (vectors.Length > 0)
            {
                var sum = new ExactSum(run.Algorithm.Layout.TotalCount);
                foreach (var c in vectors) sum.Add(FloatBytes.AsFloats(c.Values), $"episode {c.Episode}");
                shares.Add(new PartialSum(vectors.Select(c => c.Episode).ToArray(), sum));
            }
            return MetaTrainer.ApplyRound(run, optimizer, parameters, round, shares, episodes);
        });

        _round = round + 1;
        _snapshot = Snapshot();
        var report = _lastRound = RoundReport.From(round, watch.Elapsed.TotalSeconds, learningRate, episodeMetrics);
        _recentRounds.Enqueue(new RoundMetrics
        {
            Round = round, Episodes = report.Episodes, Seconds = report.Seconds, LearningRate = learningRate,
            PreLoss = report.PreLoss, PostLoss = report.PostLoss, PreAccuracy = report.PreAccuracy, PostAccuracy = report.PostAccuracy,
        });
        if (_recentRounds.Count > RecentRoundsKept) _recentRounds.Dequeue();
        (_liveWorkers, _silos) = (outcome.LiveWorkers, outcome.Silos);
        metrics.RoundCompleted(runId, Algorithm, report.Episodes, report.Seconds, report.PreLoss, report.PostLoss, report.PreAccuracy, report.PostAccuracy,
            outcome.LiveWorkers, outcome.Contributions.Sum(c => (long)c.Values.Length) + outcome.Shares.Sum(s => (long)s.Sum.Length));
    }

    /// <summary>Live worker slots; right after startup silo metadata may still be on its way, so wait a little for the first.</summary>
    private async Task<IReadOnlyList<string>> LiveWorkers()
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var workers = _workers.LiveSlots(_maxWorkers);
            if (workers.Count > 0) return workers;
            if (waited.Elapsed > options.Value.WorkerWaitTimeout)
                throw new RoundFailedException($"no worker silo (silo metadata {SiloMetadataKeys.Worker}=true) joined the cluster within {options.Value.WorkerWaitTimeout.TotalSeconds:F0} s.");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>The recovery point: into the persisted record always, and to checkpoint.mcc when the run has a directory.</summary>
    private async Task SaveCheckpoint()
    {
        var checkpoint = new Checkpoint(_config!, _round, _theta!.Clone(), _optimizer!.GetState());
        byte[] bytes = await Task.Run(checkpoint.ToBytes);
        if (_checkpointDirectory is not null)
        {
            string path = Path.Combine(_checkpointDirectory, Checkpoint.FileName);
            await Task.Run(() => Checkpoint.WriteFile(path, bytes));
            _checkpointPath = path;
        }
        (_checkpoint, _checkpointRound) = (bytes, _round);
        await Persist();
        metrics.Persisted(RunId, Algorithm);
    }

    private ThetaSnapshot Snapshot() => new() { Round = _round, Values = _theta!.ToBytes(), Sha256 = _theta.Sha256() };

    /// <summary>
    /// Best effort: a write that fails (storage briefly unreachable, its grain on a silo that just died) leaves the
    /// previous record, an older recovery point, and must not stop a healthy run.
    /// </summary>
    private async Task Persist()
    {
        var r = record.State;
        (r.ConfigJson, r.CheckpointDirectory, r.MaxWorkers, r.State, r.Round, r.Error) = (_configJson, _checkpointDirectory, _maxWorkers, _state, _round, _error);
        (r.Checkpoint, r.CheckpointRound, r.CheckpointPath) = (_checkpoint, _checkpointRound, _checkpointPath);
        (r.WorkerDeadlineBase, r.WorkerDeadlinePerEpisode, r.Redispatched, r.Retried) = (_deadlineBase, _deadlinePerEpisode, _faults.Redispatched, _faults.Retried);
        (r.Recoveries, r.PauseRequested, r.PerEpisodeContributions) = (_recoveries, _pauseRequested, _perEpisode);
        try
        {
            await record.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            StandDown("its record was written by another activation");
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not persist the record of run {RunId}; the previous recovery point stands.", RunId);
        }
    }

    /// <summary>
    /// Fencing. While a silo is being declared dead the grain directory can lose this activation's entry, and a call
    /// then activates the coordinator a second time; the new activation takes the run over from the record (and
    /// writes it). This one notices — its record's ETag moved, or its own write is refused — and stops, without
    /// writing, so exactly one activation drives the run. θ is unaffected either way: the rounds are deterministic.
    /// </summary>
    private async Task<bool> Superseded()
    {
        if (_superseded) return true;
        if (_sinceOwnershipCheck.Elapsed < OwnershipCheckInterval) return false;
        _sinceOwnershipCheck.Restart();
        string? ours = record.Etag;
        try
        {
            await record.ReadStateAsync();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not read the run record to check ownership; going on.", RunId);
            return false;
        }
        if (record.Etag != ours) StandDown("another activation has written its record");
        return _superseded;
    }

    private void StandDown(string why)
    {
        if (_superseded) return;
        _superseded = true;
        logger.LogWarning("Run {RunId}: {Why}; this activation stops at round {Round} and leaves the run to it.", RunId, why, _round);
    }

    private async Task RegisterRecoveryReminder()
    {
        try
        {
            var period = options.Value.RecoveryReminderPeriod;
            await this.RegisterOrUpdateReminder(RecoveryReminder, period, period);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not register the recovery reminder; the run recovers only when a client calls it.", RunId);
        }
    }

    private async Task UnregisterRecoveryReminder()
    {
        try
        {
            if (await this.GetReminder(RecoveryReminder) is { } reminder) await this.UnregisterReminder(reminder);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId}: could not remove the recovery reminder (harmless: it finds the run finished).", RunId);
        }
    }

    private RunStatus Status() => new()
    {
        RunId = RunId, State = _state, Round = _round, TotalRounds = _config?.Iterations ?? 0,
        MetaLoss = _lastRound?.PostLoss, PreAdaptationLoss = _lastRound?.PreLoss, Accuracy = _lastRound?.PostAccuracy,
        EpisodesPerSecond = _lastRound is { Seconds: > 0 } l ? l.Episodes / l.Seconds : 0,
        LiveWorkers = _liveWorkers, Redispatched = _faults.Redispatched, Retried = _faults.Retried, Error = _error,
        CheckpointRound = _checkpointRound, CheckpointPath = _checkpointPath, ContributingSilos = _silos, Recoveries = _recoveries,
    };
}
