using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Placement;
using MetaCluster.Grains.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Owns one run. Commands are answered at once; the rounds run in a background loop on the grain's scheduler, with
/// the math (building the run, the outer step, checkpoint files) pushed to the thread pool. The round itself is
/// Core's: episodes from EpisodeStream.RoundEpisodes, aggregation and outer step by MetaTrainer.ApplyRound — so a
/// cluster run gives the single-process trainer's bits whichever workers computed what.
/// </summary>
[KeepAlive, CoordinatorSiloPlacementFilter]
public sealed class CoordinatorGrain(
    [PersistentState("run", MetaClusterSilo.StorageName)] IPersistentState<CoordinatorRecord> record,
    IClusterMembershipService membership, ISiloMetadataCache siloMetadata,
    IOptions<MetaClusterSiloOptions> options, IOptions<SiloMessagingOptions> messaging, ILogger<CoordinatorGrain> logger)
    : Grain, ICoordinatorGrain
{
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
    private string? _checkpointPath;
    private string? _checkpointDirectory;
    private int _maxWorkers;
    private TimeSpan _deadlineBase, _deadlinePerEpisode;
    private bool _pauseRequested, _cancelRequested;
    private TaskCompletionSource _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<RoundMetrics> _recentRounds = new();

    /// <summary>Rounds kept for <see cref="GetRounds"/>.</summary>
    public const int RecentRoundsKept = 1000;

    public async Task<RunStatus> Start(StartRunRequest request)
    {
        if (_state is RunState.Running or RunState.Paused)
            throw new InvalidOperationException($"run '{this.GetPrimaryKeyString()}' is already {_state.ToString().ToLowerInvariant()}; cancel it or use another run id.");
        var deadlineBase = request.WorkerDeadlineBase ?? options.Value.WorkerDeadlineBase;
        var deadlinePerEpisode = request.WorkerDeadlinePerEpisode ?? options.Value.WorkerDeadlinePerEpisode;
        if (deadlineBase <= TimeSpan.Zero || deadlinePerEpisode < TimeSpan.Zero)
            throw new ArgumentException($"worker deadlines must be positive (got {deadlineBase} + {deadlinePerEpisode} per episode).");
        if (request.MaxWorkers < 0) throw new ArgumentException($"max workers is 0 (all) or more (got {request.MaxWorkers}).");
        var config = ConfigJson.Read(request.ConfigJson);
        var run = await Task.Run(() => RunFactory.Create(config));
        // Before anything is sent: θ must fit one message (RunFactory builds the layout, not the tensors).
        MessageSizeGuard.EnsureFits(run.Algorithm.Layout.TotalCount, messaging.Value.MaxMessageBodySize);
        var optimizer = run.CreateOptimizer();
        long round = 0;
        ParameterSet theta;
        if (request.ResumeCheckpoint is { } bytes)
        {
            // Continue where the checkpoint stopped: its θ, optimizer state and round (the math of MetaTrainer's resume).
            var checkpoint = Checkpoint.FromBytes(bytes, "the checkpoint to resume");
            if (!checkpoint.Theta.Layout.SameAs(run.Algorithm.Layout))
                throw new CheckpointException($"the checkpoint holds parameters {checkpoint.Theta.Layout.Describe()}, but {run.Algorithm.Name} on {run.Model.Name} needs {run.Algorithm.Layout.Describe()}; resume with the checkpoint's own settings.");
            theta = checkpoint.Theta.Clone();
            optimizer.SetState(checkpoint.Optimizer);
            round = checkpoint.Round;
        }
        else
        {
            theta = await Task.Run(run.InitialParameters);
        }

        (_config, _configJson, _run, _optimizer, _theta) = (config, request.ConfigJson, run, optimizer, theta);
        (_checkpointDirectory, _maxWorkers) = (request.CheckpointDirectory, request.MaxWorkers);
        (_deadlineBase, _deadlinePerEpisode) = (deadlineBase, deadlinePerEpisode);
        (_round, _error, _lastRound, _faults, _silos, _checkpointRound, _checkpointPath) = (round, null, null, new(), [], null, null);
        _recentRounds.Clear();
        (_pauseRequested, _cancelRequested) = (false, false);
        _snapshot = Snapshot();
        _state = RunState.Running;
        await Persist();
        _ = RunLoop();
        return Status();
    }

    public Task<RunStatus> GetStatus() => Task.FromResult(Status());

    public Task<RunStatus> Pause()
    {
        if (_state == RunState.Running) _pauseRequested = true;
        return Task.FromResult(Status());
    }

    public Task<RunStatus> Resume()
    {
        _pauseRequested = false;
        _resumed.TrySetResult();
        return Task.FromResult(Status());
    }

    public Task<RunStatus> Cancel()
    {
        if (_state is RunState.Running or RunState.Paused) _cancelRequested = true;
        _resumed.TrySetResult();
        return Task.FromResult(Status());
    }

    public Task<ThetaSnapshot?> GetTheta() => Task.FromResult(_snapshot);

    public Task<RoundMetrics[]> GetRounds(long fromRound) => Task.FromResult(_recentRounds.Where(r => r.Round >= fromRound).ToArray());

    public async Task<byte[]?> GetLatestCheckpoint()
    {
        if (_checkpointPath is null) return null;
        var bytes = await File.ReadAllBytesAsync(_checkpointPath);
        if (bytes.Length + MessageSizeGuard.Overhead > messaging.Value.MaxMessageBodySize)
            throw new InvalidOperationException($"the checkpoint ({bytes.Length:N0} bytes) is larger than the message body limit ({messaging.Value.MaxMessageBodySize:N0}); read {_checkpointPath} directly.");
        return bytes;
    }

    private async Task RunLoop()
    {
        var config = _config!;
        try
        {
            while (_round < config.Iterations && !_cancelRequested)
            {
                if (_pauseRequested)
                {
                    _state = RunState.Paused;
                    _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    await _resumed.Task;
                    if (_cancelRequested) break;
                    _state = RunState.Running;
                }
                await RunRound();
                if (_checkpointDirectory is not null && _round % config.CheckpointEvery == 0) await SaveCheckpoint();
            }
            if (_checkpointDirectory is not null && _checkpointRound != _round) await SaveCheckpoint();
            _state = _cancelRequested ? RunState.Cancelled : RunState.Completed;
        }
        catch (Exception e)
        {
            string kept = _checkpointRound is { } r ? $" The last checkpoint (round {r}, {_checkpointPath}) is intact." : "";
            _error = $"run '{this.GetPrimaryKeyString()}' stopped in round {_round}: {e.Message}{kept}";
            _state = RunState.Failed;
            logger.LogError(e, "Run {RunId} failed in round {Round}.", this.GetPrimaryKeyString(), _round);
        }
        await Persist();
    }

    private async Task RunRound()
    {
        var watch = Stopwatch.StartNew();
        var (config, run) = (_config!, _run!);
        var episodes = EpisodeStream.RoundEpisodes(_round, config.MetaBatch);
        var workers = await LiveWorkers();
        byte[] theta = _snapshot!.Values;
        string runId = this.GetPrimaryKeyString();
        long round = _round;
        var dispatcher = new RoundDispatcher(
            (worker, share) => GrainFactory.GetGrain<ITaskWorkerGrain>(worker).Contribute(new WorkRequest
            {
                RunId = runId, Round = round, ConfigJson = _configJson, Theta = theta, Episodes = share,
            }),
            count => _deadlineBase + _deadlinePerEpisode * count,
            MessageSizeGuard.EpisodesPerCall(run.Algorithm.Layout.TotalCount, messaging.Value.MaxMessageBodySize),
            _faults, logger);
        var outcome = await dispatcher.Run(round, workers, episodes);

        var contributions = outcome.Contributions.Select(c => new Contribution(c.Episode, FloatBytes.ToFloats(c.Values),
            new EpisodeMetrics(c.PreLoss, c.PostLoss, c.PreAccuracy, c.PostAccuracy))).ToArray();
        var (optimizer, parameters) = (_optimizer!, _theta!);
        double learningRate = await Task.Run(() => MetaTrainer.ApplyRound(run, optimizer, parameters, round, contributions, episodes));

        _round = round + 1;
        _snapshot = Snapshot();
        _lastRound = RoundReport.From(round, watch.Elapsed.TotalSeconds, learningRate, contributions);
        _recentRounds.Enqueue(new RoundMetrics
        {
            Round = round, Episodes = _lastRound.Episodes, Seconds = _lastRound.Seconds, LearningRate = learningRate,
            PreLoss = _lastRound.PreLoss, PostLoss = _lastRound.PostLoss, PreAccuracy = _lastRound.PreAccuracy, PostAccuracy = _lastRound.PostAccuracy,
        });
        if (_recentRounds.Count > RecentRoundsKept) _recentRounds.Dequeue();
        (_liveWorkers, _silos) = (outcome.LiveWorkers, outcome.Silos);
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

    private async Task SaveCheckpoint()
    {
        var checkpoint = new Checkpoint(_config!, _round, _theta!.Clone(), _optimizer!.GetState());
        string path = Path.Combine(_checkpointDirectory!, Checkpoint.FileName);
        await Task.Run(() => checkpoint.Save(path));
        (_checkpointRound, _checkpointPath) = (_round, path);
        await Persist();
    }

    private ThetaSnapshot Snapshot() => new() { Round = _round, Values = _theta!.ToBytes(), Sha256 = _theta.Sha256() };

    /// <summary>
    /// Best effort: the record is a pointer to the checkpoint file, which is what a run resumes from. With in-memory
    /// storage the storage grain may sit on a silo that just died; losing the record must not stop a healthy run.
    /// </summary>
    private async Task Persist()
    {
        var r = record.State;
        (r.ConfigJson, r.CheckpointDirectory, r.MaxWorkers, r.State, r.Round, r.Error, r.CheckpointRound) =
            (_configJson, _checkpointDirectory, _maxWorkers, _state, _round, _error, _checkpointRound);
        try
        {
            await record.WriteStateAsync();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not persist the record of run {RunId}; the checkpoint file is unaffected.", this.GetPrimaryKeyString());
        }
    }

    private RunStatus Status() => new()
    {
        RunId = this.GetPrimaryKeyString(), State = _state, Round = _round, TotalRounds = _config?.Iterations ?? 0,
        MetaLoss = _lastRound?.PostLoss, PreAdaptationLoss = _lastRound?.PreLoss, Accuracy = _lastRound?.PostAccuracy,
        EpisodesPerSecond = _lastRound is { Seconds: > 0 } l ? l.Episodes / l.Seconds : 0,
        LiveWorkers = _liveWorkers, Redispatched = _faults.Redispatched, Retried = _faults.Retried, Error = _error,
        CheckpointRound = _checkpointRound, CheckpointPath = _checkpointPath, ContributingSilos = _silos,
    };
}
