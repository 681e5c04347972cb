using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Contracts;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cli.Training;

/// <summary>
/// <c>train</c> through grains: <see cref="ClusterTrainingClient.TrainAsync"/> — the loop the cluster tests run —
/// with this command's progress view, Ctrl+C and <c>--time-limit</c> as its stop (the coordinator finishes the
/// round in flight and writes the checkpoint) and coordinator takeovers reported on stderr. The coordinator writes
/// the checkpoint files; from a remote cluster the last one is also copied to the local checkpoint path.
/// </summary>
public static class ClusterTraining
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public static async Task<TrainingOutcome> RunAsync(RunBlueprint run, TrainingPlan plan, ClusterHost cluster, string runId, int maxWorkers, StopSignal stop, bool perSilo = false, int hubGroup = 1)
    {
        var config = plan.Config;
        var client = new ClusterTrainingClient(cluster.Grains);
        var stats = new TrainingStats(plan.Resume?.Round ?? 0, config.Iterations, config.MetaBatch) { LiveWorkers = 0, Redispatched = 0 };
        using var timeLimit = new CancellationTokenSource();
        // A timer reaches about 49 days; a longer limit is no limit.
        if (plan.TimeLimit < TimeSpan.FromDays(49)) timeLimit.CancelAfter(plan.TimeLimit);
        using var stopOrLimit = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, timeLimit.Token);

        var result = await ProgressView.RunAsync(plan.Title, stats, plan.Live, afterRound => client.TrainAsync(runId, config,
            new ClusterRunOptions(plan.CheckpointDirectory, maxWorkers, ResumeFrom: plan.Resume, PerSiloDispatch: perSilo, HubGroup: hubGroup),
            new RunFollowing
            {
                PollInterval = PollInterval, Stop = stopOrLimit.Token, Notice = Console.Error.WriteLine, StallTimeout = plan.StallTimeout,
                OnProgress = (status, rounds) =>
                {
                    foreach (var round in rounds) stats.Add(ToReport(round), round.Seconds);
                    (stats.LiveWorkers, stats.Redispatched) = (status.LiveWorkers, status.Redispatched);
                    afterRound();
                },
            }));
        var final = result.Status;
        var theta = ParameterSet.FromBytes(run.Layout, result.Theta.Values);
        var latest = await LatestCheckpoint(client, runId);
        if (!cluster.Embedded && latest is not null) CopyCheckpoint(latest.Value.Bytes, plan.CheckpointPath);
        // Stopped by the time limit alone: a finished run as far as the user is concerned, not an interrupted one.
        bool interrupted = final.State == RunState.Cancelled && !(timeLimit.IsCancellationRequested && !stop.Requested);
        return new TrainingOutcome(theta, result.Theta.Round, interrupted, stats, TrainingOutcome.Cluster, runId, final.LiveWorkers, final.Redispatched)
        {
            TrainingSeconds = latest?.Checkpoint.TrainingSeconds,
        };
    }

    /// <summary>The coordinator's last checkpoint, read (which checks it) and as its bytes; null when it wrote none.</summary>
    private static async Task<(Checkpoint Checkpoint, byte[] Bytes)?> LatestCheckpoint(ClusterTrainingClient client, string runId)
    {
        var bytes = await client.Coordinator(runId).GetLatestCheckpoint();
        return bytes is null ? null : (Checkpoint.FromBytes(bytes, $"the checkpoint of run '{runId}'"), bytes);
    }

    /// <summary>A remote coordinator wrote the checkpoint on its own machine: keep a copy here too (same bytes).</summary>
    private static void CopyCheckpoint(byte[] bytes, string path)
    {
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return;
        Checkpoint.WriteFile(path, bytes);
    }

    private static RoundReport ToReport(RoundMetrics r) =>
        new(r.Round, r.Episodes, r.Seconds, r.LearningRate, r.PreLoss, r.PostLoss, r.PreAccuracy, r.PostAccuracy);
}
