using System.CommandLine;
using System.Diagnostics;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster train</c>: meta-trains in this process, checkpointing every N rounds, at the end and on Ctrl+C,
/// then evaluates θ on held-out episodes and prints a summary (or one JSON line).
/// </summary>
public sealed class TrainCommand
{
    /// <summary>Exit code when a run was stopped by Ctrl+C/SIGTERM after saving its checkpoint (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    private readonly RunOptions _run = new();
    private readonly Option<string> _checkpointDir = new("--checkpoint-dir")
    {
        Description = "folder for checkpoint.mcc (default ./runs/<dataset>-<algorithm>)",
        HelpName = "DIR",
    };
    private readonly Option<int?> _checkpointEvery = new("--checkpoint-every") { Description = "save a checkpoint every N rounds (default 1000)", HelpName = "N" };
    private readonly Option<bool> _resume = new("--resume") { Description = "continue the checkpoint in --checkpoint-dir with its own config", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _overwrite = new("--overwrite") { Description = "start afresh even if --checkpoint-dir already holds a checkpoint", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _json = EvaluationOptions.Json();
    private readonly Option<int> _evalEpisodes = new("--eval-episodes")
    {
        Description = "held-out episodes (tasks) for the final evaluation",
        HelpName = "E",
        DefaultValueFactory = _ => EvaluationOptions.DefaultEpisodes,
    };
    private readonly Option<ulong> _evalSeed = EvaluationOptions.EvalSeed();
    private readonly Option<bool> _noEval = new("--no-eval") { Description = "skip the final evaluation", Arity = ArgumentArity.Zero };
    private readonly Option<double?> _timeLimit = new("--time-limit")
    {
        Description = "stop starting rounds after this many minutes of training, save, and evaluate as if finished",
        HelpName = "MINUTES",
    };

    public Command Build()
    {
        var command = new Command("train", "Meta-train a model in this process, with checkpoints, then evaluate it on held-out episodes.");
        _run.AddTo(command);
        command.Add(_checkpointDir);
        command.Add(_checkpointEvery);
        command.Add(_resume);
        command.Add(_overwrite);
        command.Add(_json);
        command.Add(_evalEpisodes);
        command.Add(_evalSeed);
        command.Add(_noEval);
        command.Add(_timeLimit);
        command.SetAction(Execute);
        return command;
    }

    private int Execute(ParseResult result)
    {
        bool json = result.GetValue(_json);
        var requested = _run.ToConfig(result);
        string directory = result.GetValue(_checkpointDir) ?? Path.Combine("runs", $"{requested.Dataset}-{requested.Algorithm}");
        string checkpointPath = Path.GetFullPath(Path.Combine(directory, Checkpoint.FileName));
        int evalEpisodes = result.GetValue(_evalEpisodes);
        bool evaluate = !result.GetValue(_noEval);
        if (evaluate && evalEpisodes < 1)
            throw new ArgumentException($"--eval-episodes must be at least 1 (got {evalEpisodes}); use --no-eval to skip the evaluation.");

        Checkpoint? resume = null;
        TrainingConfig config;
        if (result.GetValue(_resume))
        {
            resume = Checkpoint.Load(checkpointPath);
            config = _run.ForResume(result, resume.Config);
        }
        else
        {
            requested.Validate();
            new EpisodeSpec(requested.Ways, requested.Shots, requested.Queries).Validate();
            if (File.Exists(checkpointPath) && !result.GetValue(_overwrite))
                throw new ArgumentException($"{checkpointPath} already exists; pass --resume to continue that run, --overwrite to start afresh, or another --checkpoint-dir.");
            config = requested;
        }
        if (result.GetValue(_checkpointEvery) is { } every)
        {
            if (every < 1) throw new ArgumentException($"--checkpoint-every must be at least 1 (got {every}).");
            config = config with { CheckpointEvery = every };
        }
        int checkpointEvery = Math.Max(1, config.CheckpointEvery);
        double? timeLimit = result.GetValue(_timeLimit);
        if (timeLimit is <= 0) throw new ArgumentException($"--time-limit must be a positive number of minutes (got {timeLimit}).");
        var deadline = timeLimit is { } minutes ? TimeSpan.FromMinutes(minutes) : TimeSpan.MaxValue;
        var clock = Stopwatch.StartNew();

        TorchStartup.Initialize(config.Threads);
        var run = RunFactory.Create(config);
        var trainer = new MetaTrainer(run, resume);
        var stats = new TrainingStats(trainer.Round, config.Iterations, config.MetaBatch);
        bool live = !json && Terminal.Interactive;
        if (resume is not null && !json)
            Terminal.WriteStatus($"resuming {checkpointPath} at round {resume.Round} of {config.Iterations}, with the checkpoint's config.");

        bool interrupted;
        using (var stop = new StopSignal())
        {
            interrupted = ProgressView.Run($"train {config.Dataset}/{config.Algorithm}", stats, live, afterRound =>
            {
                var watch = new Stopwatch();
                while (!trainer.Finished && clock.Elapsed < deadline)
                {
                    if (stop.Requested) return true;
                    watch.Restart();
                    var report = trainer.RunRound();
                    stats.Add(report, watch.Elapsed.TotalSeconds);
                    if (trainer.Round % checkpointEvery == 0 && !trainer.Finished)
                        trainer.ToCheckpoint().Save(checkpointPath);
                    afterRound();
                }
                return stop.Requested;
            });
            trainer.ToCheckpoint().Save(checkpointPath);
        }
        if (!interrupted && !trainer.Finished && !json)
            Terminal.WriteStatus($"time limit of {timeLimit} minutes reached at round {trainer.Round} of {config.Iterations}; checkpoint saved.");
        if (interrupted && !json)
            Terminal.WriteStatus($"stopped at round {trainer.Round} of {config.Iterations}; checkpoint saved. Continue with: metacluster train --resume --checkpoint-dir {directory}");

        ulong evalSeed = result.GetValue(_evalSeed);
        IReadOnlyList<EvaluationResult> evaluation = [];
        if (evaluate && !interrupted)
        {
            if (!json) Terminal.WriteStatus($"evaluating on {evalEpisodes} held-out episodes…");
            evaluation = HeldOutEvaluation.Run(run, trainer.Theta, evalEpisodes, evalSeed, config.EvalSteps, HeldOutEvaluation.BothModes);
        }

        var summary = new TrainSummary(config, stats, trainer.Round, !interrupted, trainer.Theta.Sha256(), checkpointPath, evaluation, evalEpisodes, evalSeed);
        if (json) JsonReport.Write(summary.ToJson());
        else summary.Render(Terminal.Out);
        return interrupted ? Interrupted : 0;
    }
}
