using System.Diagnostics;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Hosting;
using MetaCluster.Grains.Placement;
using MetaCluster.Grains.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// Hosts one run: commands, the persisted record, fencing, the recovery reminder and status. The rounds themselves
/// are Core's <see cref="MetaTrainer"/> (episodes, exact aggregation, outer step, checkpoint cadence, resume rules)
/// with the cluster as its contribution provider, run in a background loop on the grain's scheduler — so a cluster
/// run gives the single-process trainer's bits whichever workers computed what. This grain does no arithmetic on θ.
///
/// Recovery: at every checkpoint the checkpoint bytes go into the persisted record, and a reminder is registered while
/// the run is live. When the process hosting this activation dies, the next call (a client polling status) or the
/// reminder's next tick activates the grain on a surviving silo; activation finds a live run in the record and
/// continues it from that checkpoint.
/// </summary>
[KeepAlive, CoordinatorSiloPlacementFilter]
public sealed class CoordinatorGrain(
    [PersistentState("run", MetaClusterSilo.StorageName)] IPersistentState<CoordinatorRecord> record,
    IClusterMembershipService membership, ISiloMetadataCache siloMetadata, MetaClusterMetrics metrics,
    IOptions<MetaClusterSiloOptions> options, IOptions<SiloMessagingOptions> messaging, Bulk.BulkChannel bulk, ILogger<CoordinatorGrain> logger)
    : Grain, ICoordinatorGrain, IRemindable
{
    private readonly WorkerDirectory _workers = new(membership, siloMetadata);
    private RunFence? _fence;
    private RecoveryReminder? _reminder;
    private ActiveRun? _active;
    private RoundWindow _window = new();
    private bool _cancelRequested, _loopRunning, _roundInFlight;
    private TaskCompletionSource _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CoordinatorRecord Run => record.State;
    private string RunId => this.GetPrimaryKeyString();
    private string Algorithm => _active?.Config.Algorithm ?? "unknown";
    private RunFence Fence => _fence ??= new RunFence(record, RunId, logger, restored: () => Run.IsLive ? Reminder.Register() : Task.CompletedTask);
    private RecoveryReminder Reminder => _reminder ??= new RecoveryReminder(this, options.Value.RecoveryReminderPeriod, RunId, logger);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A record that says "running" or "paused" with no live loop means the activation that ran it is gone.
        if (Run is { ConfigJson: not null, IsLive: true }) _ = Recover();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The runtime takes this activation away (its directory entry was lost with a silo declared dead, the silo is
        // stopping): what it was doing is not the run failing. It stands down without writing; the next activation
        // resumes from the record's checkpoint.
        if (_loopRunning) Fence.Deactivating($"{reason.ReasonCode}: {reason.Description}", Run.Round);
        return Task.CompletedTask;
    }

    public async Task<RunStatus> Start(StartRunRequest request)
    {
        if (Run.IsLive)
            throw new ArgumentException($"run '{RunId}' is already {Run.State.ToString().ToLowerInvariant()}; cancel it or use another run id.");
        var started = CoordinatorRecord.Started(request, options.Value);
        var active = await Build(started, "the checkpoint to resume");
        (started.Round, started.CheckpointRound) = (active.Trainer.Round, request.ResumeCheckpoint is null ? null : active.Trainer.Round);
        (record.State, _active, _window, _cancelRequested) = (started, active, new RoundWindow(), false);
        metrics.RunStarted(RunId, Algorithm);
        await Fence.Write();
        await Reminder.Register();
        _ = RunLoop();
        return Status();
    }

    public Task<RunStatus> GetStatus() => Task.FromResult(Status());

    public async Task<RunStatus> Pause()
    {
        if (Run.State == RunState.Running && !Run.PauseRequested)
        {
            Run.PauseRequested = true;
            await Fence.Write();
        }
        return Status();
    }

    public async Task<RunStatus> Resume()
    {
        bool wasRequested = Run.PauseRequested;
        Run.PauseRequested = false;
        _resumed.TrySetResult();
        if (wasRequested) await Fence.Write();
        return Status();
    }

    public Task<RunStatus> Cancel()
    {
        if (Run.IsLive) _cancelRequested = true;
        _resumed.TrySetResult();
        return Task.FromResult(Status());
    }

    public Task<ThetaSnapshot?> GetTheta() => Task.FromResult(_active?.Snapshot(_roundInFlight));

    public Task<RoundMetrics[]> GetRounds(long fromRound) => Task.FromResult(_window.From(fromRound));

    public Task<string> GetConfigJson() =>
        Run.ConfigJson is { } json ? Task.FromResult(json) : throw new InvalidOperationException($"run '{RunId}' has not been started.");

    public Task<byte[]?> GetLatestCheckpoint()
    {
        if (Run.Checkpoint is { } bytes && bytes.Length + MessageSizeGuard.Overhead > messaging.Value.MaxMessageBodySize)
            throw new InvalidOperationException($"the checkpoint ({bytes.Length:N0} bytes) is larger than the message body limit ({messaging.Value.MaxMessageBodySize:N0}); read {Run.CheckpointPath ?? "it from the coordinator's checkpoint directory"} directly.");
        return Task.FromResult(Run.Checkpoint);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Activation already resumed a live run (OnActivateAsync); a reminder left over from a finished run goes.
        if (reminderName == RecoveryReminder.Name && !Run.IsLive) await Reminder.Unregister();
    }

    private Task<ActiveRun> Build(CoordinatorRecord run, string what) =>
        ActiveRun.Build(run, RunId, what, options.Value, messaging.Value.MaxMessageBodySize, GrainFactory, _workers, bulk, logger);

    /// <summary>Takes over a live run from the persisted record: the previous activation (and maybe its process) is gone.</summary>
    private async Task Recover()
    {
        var watch = Stopwatch.StartNew();
        long reached = Run.Round;
        (Run.Recoveries, Run.Round) = (Run.Recoveries + 1, Run.CheckpointRound ?? 0);
        try
        {
            _active = await Build(Run, $"the persisted checkpoint of run '{RunId}'");
            Run.Round = _active.Trainer.Round;
        }
        catch (Exception e)
        {
            (Run.Error, Run.State) = ($"run '{RunId}' could not be recovered from its persisted record: {e.Message}", RunState.Failed);
            logger.LogError(e, "Run {RunId} could not be recovered.", RunId);
            await Fence.Write();
            await Reminder.Unregister();
            return;
        }
        metrics.RunStarted(RunId, Algorithm);
        metrics.Recovered(RunId, Algorithm);
        logger.LogWarning("Run {RunId}: took over from the persisted record at round {Round} (recovery {Recoveries}, {Seconds:F1} s to rebuild); rounds {Round}–{Reached} are recomputed.",
            RunId, Run.Round, Run.Recoveries, watch.Elapsed.TotalSeconds, Run.Round, reached);
        await Fence.Write();
        await Reminder.Register();
        _ = RunLoop();
    }

    private async Task RunLoop()
    {
        if (_loopRunning) return;
        _loopRunning = true;
        var trainer = _active!.Trainer;
        try
        {
            while (!trainer.Finished && !_cancelRequested)
            {
                if (await Fence.CheckSuperseded()) return;
                if (Run.PauseRequested)
                {
                    Run.State = RunState.Paused;
                    _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    await _resumed.Task;
                    if (_cancelRequested) break;
                    Run.State = RunState.Running;
                }
                await RunRound();
                if (trainer.CheckpointDue) await SaveCheckpoint();
                if (Fence.Superseded) return;
            }
            // Cancelled between checkpoints: the recovery point is where it stopped.
            if (Run.CheckpointRound != trainer.Round) await SaveCheckpoint();
            if (Fence.Superseded) return;
            Run.State = _cancelRequested ? RunState.Cancelled : RunState.Completed;
        }
        catch (Exception e)
        {
            if (await Fence.LostTheRun(e, trainer.Round, ServiceProvider)) return;
            string kept = Run.CheckpointRound is { } r ? $" The last checkpoint (round {r}{(Run.CheckpointPath is null ? "" : $", {Run.CheckpointPath}")}) is intact." : "";
            (Run.Error, Run.State) = ($"run '{RunId}' stopped in round {trainer.Round}: {e.Message}{kept}", RunState.Failed);
            metrics.RoundFailed(RunId, Algorithm);
            logger.LogError(e, "Run {RunId} failed in round {Round}.", RunId, trainer.Round);
        }
        finally
        {
            _loopRunning = false;
            if (Fence.Superseded) DeactivateOnIdle();
        }
        await Fence.Write();
        await Reminder.Unregister();
        metrics.RunEnded(RunId);
    }

    private async Task RunRound()
    {
        var (trainer, contributions) = (_active!.Trainer, _active.Contributions);
        long redispatchedBefore = Run.Faults.Redispatched;
        RoundReport report;
        _roundInFlight = true;
        try
        {
            report = await trainer.RunRoundAsync();
        }
        finally
        {
            _roundInFlight = false;
            metrics.Redispatched(RunId, Algorithm, Run.Faults.Redispatched - redispatchedBefore);
        }
        var outcome = contributions.LastOutcome!;
        Run.Round = trainer.Round;
        var kept = _window.Add(report, outcome.LiveWorkers, outcome.Silos, outcome.ContributionBytes, outcome.Last, outcome.DispatchSeconds);
        if (kept.Parts() is { } parts) metrics.RoundParts(RunId, Algorithm, parts);
        metrics.RoundCompleted(RunId, Algorithm, report.Episodes, report.Seconds, report.PreLoss, report.PostLoss, report.PreAccuracy, report.PostAccuracy,
            outcome.LiveWorkers, outcome.ContributionBytes);
    }

    /// <summary>The recovery point: into the persisted record always, and to checkpoint.mcc when the run has a directory.</summary>
    private async Task SaveCheckpoint()
    {
        var checkpoint = _active!.Trainer.ToCheckpoint();
        byte[] bytes = await Task.Run(checkpoint.ToBytes);
        if (Run.CheckpointDirectory is { } directory)
        {
            string path = Path.Combine(directory, Checkpoint.FileName);
            // A file that cannot be written leaves the run on the checkpoint in the record (no path: the file is not that checkpoint).
            bool written = await CheckpointFiles.TryWrite(path, bytes, RunId, checkpoint.Round, logger);
            if (!written) metrics.CheckpointWriteFailed(RunId, Algorithm);
            Run.CheckpointPath = written ? path : null;
        }
        (Run.Checkpoint, Run.CheckpointRound) = (bytes, checkpoint.Round);
        await Fence.Write();
        metrics.Persisted(RunId, Algorithm);
    }

    private RunStatus Status() => Run.ToStatus(RunId, _active?.Config.Iterations ?? 0, _window, _active?.Contributions);
}
