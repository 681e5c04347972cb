using System.Diagnostics;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Training;

/// <summary>
/// <c>train --in-process</c>: Core's single-process trainer (MetaTrainer), checkpointing every N rounds, at the end
/// and on Ctrl+C — for comparison with the cluster and for benchmarks.
/// </summary>
public static class InProcessTraining
{
    public static TrainingOutcome Run(TrainingRun run, TrainingPlan plan)
    {
        var config = plan.Config;
        var clock = Stopwatch.StartNew();
        var trainer = new MetaTrainer(run, plan.Resume);
        var stats = new TrainingStats(trainer.Round, config.Iterations, config.MetaBatch);
        bool interrupted;
        using (var stop = new StopSignal())
        {
            interrupted = ProgressView.Run(plan.Title, stats, plan.Live, afterRound =>
            {
                var watch = new Stopwatch();
                while (!trainer.Finished && clock.Elapsed < plan.TimeLimit)
                {
                    if (stop.Requested) return true;
                    watch.Restart();
                    var report = trainer.RunRound();
                    stats.Add(report, watch.Elapsed.TotalSeconds);
                    if (trainer.CheckpointDue && !trainer.Finished) trainer.ToCheckpoint().Save(plan.CheckpointPath);
                    afterRound();
                }
                return stop.Requested;
            });
            // The end, or where Ctrl+C or the time limit stopped it.
            trainer.ToCheckpoint().Save(plan.CheckpointPath);
        }
        return new TrainingOutcome(trainer.Theta, trainer.Round, interrupted, stats, TrainingOutcome.InProcess) { TrainingSeconds = trainer.TrainingSeconds };
    }
}
