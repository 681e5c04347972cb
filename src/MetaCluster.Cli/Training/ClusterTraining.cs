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
        // The embedded coordinator wrote the checkpoint here; a remote one on its machine, and it is copied here.
        var latest = cluster.Embedded ? (File.Exists(plan.CheckpointPath) ? Checkpoint.Load(plan.CheckpointPath) : null)
            : await CopyCheckpoint(client, runId, plan.CheckpointPath);
        // Stopped by the time limit alone: a finished run as far as the user is concerned, not an interrupted one.
        bool interrupted = final.State == RunState.Cancelled && !(timeLimit.IsCancellationRequested && !stop.Requested);
        return new TrainingOutcome(theta, result.Theta.Round, interrupted, stats, TrainingOutcome.Cluster, runId, final.LiveWorkers, final.Redispatched)
        {
            TrainingSeconds = latest?.TrainingSeconds,
        };
    }

    /// <summary>A remote coordinator wrote the checkpoint on its own machine: keep a copy here too (same bytes), and read it.</summary>
    private static async Task<Checkpoint?> CopyCheckpoint(ClusterTrainingClient client, string runId, string path)
    {
        var bytes = await client.Coordinator(runId).GetLatestCheckpoint();
        if (bytes is null) return null;
        var checkpoint = Checkpoint.FromBytes(bytes, $"the checkpoint of run '{runId}'");
        if (!File.Exists(path) || !(await File.ReadAllBytesAsync(path)).AsSpan().SequenceEqual(bytes)) Checkpoint.WriteFile(path, bytes);
        return checkpoint;
    }

    private static RoundReport ToReport(RoundMetrics r) =>
        new(r.Round, r.Episodes, r.Seconds, r.LearningRate, r.PreLoss, r.PostLoss, r.PreAccuracy, r.PostAccuracy);
}
