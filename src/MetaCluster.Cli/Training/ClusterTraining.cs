using System.Diagnostics;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Contracts;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cli.Training;

/// <summary>
/// <c>train</c> through grains: starts the run on the cluster's coordinator, follows it (status and every round's
/// metrics) until it ends, cancels it on Ctrl+C or at the time limit (the coordinator finishes the round in flight
/// and writes the checkpoint), and fetches θ. The coordinator writes the checkpoint files; from a remote cluster the
/// last one is also copied to the local checkpoint path.
/// </summary>
public static class ClusterTraining
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public static async Task<TrainingOutcome> RunAsync(TrainingRun run, TrainingPlan plan, ClusterHost cluster, string runId, int maxWorkers, StopSignal stop)
    {
        var config = plan.Config;
        var client = new ClusterTrainingClient(cluster.Grains);
        var clock = Stopwatch.StartNew();
        RunStatus started;
        try
        {
            started = await client.StartAsync(runId, config, new ClusterRunOptions(plan.CheckpointDirectory, maxWorkers, ResumeFrom: plan.Resume));
        }
        catch (InvalidOperationException e)
        {
            // The coordinator refuses a second run under an id that is still running or paused.
            throw new ArgumentException(e.Message);
        }
        var stats = new TrainingStats(started.Round, config.Iterations, config.MetaBatch) { LiveWorkers = 0, Redispatched = 0 };
        bool timeLimitHit = false;

        async Task<RunStatus> Follow(Action afterRound)
        {
            long next = started.Round;
            bool cancelSent = false;
            var contact = new CoordinatorContact(runId);
            while (true)
            {
                // Status first, rounds second: once the status says finished, the rounds fetched after it are all there are.
                RunStatus status;
                RoundMetrics[] rounds;
                try
                {
                    status = await client.GetStatusAsync(runId);
                    rounds = await client.GetRoundsAsync(runId, next);
                    contact.Restore();
                }
                catch (Exception e) when (CoordinatorContact.IsTransient(e))
                {
                    // The coordinator's silo died: the next call activates it on a surviving silo, which resumes the run
                    // from its persisted checkpoint. Rounds it recomputes carry numbers already seen, so none count twice.
                    contact.Lost(e);
                    await Task.Delay(CoordinatorContact.RetryInterval);
                    continue;
                }
                foreach (var round in rounds)
                {
                    stats.Add(ToReport(round), round.Seconds);
                    next = round.Round + 1;
                }
                (stats.LiveWorkers, stats.Redispatched) = (status.LiveWorkers, status.Redispatched);
                afterRound();
                if (status.IsFinished) return status;
                if (!cancelSent && (stop.Requested || clock.Elapsed >= plan.TimeLimit))
                {
                    timeLimitHit = !stop.Requested;
                    await client.CancelAsync(runId);
                    cancelSent = true;
                }
                await Task.Delay(PollInterval);
            }
        }

        var final = ProgressView.Run(plan.Title, stats, plan.Live, afterRound => Follow(afterRound).GetAwaiter().GetResult());
        if (final.State == RunState.Failed) throw new ClusterTrainingException(final);
        var snapshot = await client.Coordinator(runId).GetTheta() ?? throw new InvalidOperationException($"run '{runId}' ended without θ.");
        var theta = ParameterSet.FromBytes(run.Algorithm.Layout, snapshot.Values);
        if (!cluster.Embedded) await CopyCheckpoint(client, runId, plan.CheckpointPath);
        bool interrupted = final.State == RunState.Cancelled && !timeLimitHit;
        return new TrainingOutcome(theta, snapshot.Round, interrupted, stats, TrainingOutcome.Cluster, runId, final.LiveWorkers, final.Redispatched);
    }

    /// <summary>A remote coordinator wrote the checkpoint on its own machine: keep a copy here too (same bytes).</summary>
    private static async Task CopyCheckpoint(ClusterTrainingClient client, string runId, string path)
    {
        var bytes = await client.Coordinator(runId).GetLatestCheckpoint();
        if (bytes is null || (File.Exists(path) && (await File.ReadAllBytesAsync(path)).AsSpan().SequenceEqual(bytes))) return;
        Checkpoint.FromBytes(bytes, $"the checkpoint of run '{runId}'").Save(path);
    }

    private static RoundReport ToReport(RoundMetrics r) =>
        new(r.Round, r.Episodes, r.Seconds, r.LearningRate, r.PreLoss, r.PostLoss, r.PreAccuracy, r.PostAccuracy);
}
