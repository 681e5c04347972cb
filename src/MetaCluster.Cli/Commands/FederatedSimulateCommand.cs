using System.CommandLine;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster federated simulate</c>: a federation's clients simulated in this process (the same client trainer a
/// real client runs), the round loop of Core's <see cref="FederatedTrainer"/>, checkpoints every N rounds, at the end
/// and on Ctrl+C; then personalization on the new clients, and a summary table or one JSON line.
/// </summary>
public sealed class FederatedSimulateCommand
{
    private readonly FederatedOptions _run = new();
    private readonly Option<string> _checkpoint = new("--checkpoint")
    {
        Description = "the checkpoint file (default runs/federated-<dataset>-<algorithm>/federated.mcc)",
        HelpName = "FILE",
    };
    private readonly Option<bool> _resume = new("--resume") { Description = "continue the run in --checkpoint with its own config", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _overwrite = new("--overwrite") { Description = "start afresh even if --checkpoint exists", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _json = EvaluationOptions.Json();
    private readonly Option<bool> _noEval = new("--no-eval") { Description = "skip the evaluation on new clients", Arity = ArgumentArity.Zero };
    private readonly Option<ulong> _evalSeed = new("--eval-seed")
    {
        Description = "seed of the new clients' evaluation episodes",
        HelpName = "SEED",
        DefaultValueFactory = _ => NewClientEvaluation.DefaultSeed,
    };
    private readonly Option<bool> _inProcess = new("--in-process")
    {
        Description = "compute the sampled clients' updates in this process (the only engine so far; accepted for scripts)",
        Arity = ArgumentArity.Zero,
    };

    public Command Build()
    {
        var command = new Command("simulate", "Simulate a federation in this process: sampled clients compute updates on their own data, the server aggregates them exactly; then evaluate on new clients.");
        _run.AddTo(command);
        command.Add(_checkpoint);
        command.Add(_resume);
        command.Add(_overwrite);
        command.Add(_json);
        command.Add(_noEval);
        command.Add(_evalSeed);
        command.Add(_inProcess);
        command.SetAction((result, _) => Task.FromResult(Execute(result)));
        return command;
    }

    private static bool Train(FederatedTrainer trainer, FederatedConfig config, TrainingStats stats, string path, bool json, StopSignal stop, ref long updates)
    {
        long count = 0;
        bool interrupted = ProgressView.Run($"federated {config.Dataset}/{config.Algorithm}", stats, !json && Terminal.Interactive, afterRound =>
        {
            while (!trainer.Finished)
            {
                if (stop.Requested) return true;
                var report = trainer.RunRound();
                count += report.Participants.Count;
                stats.Add(new RoundReport(report.Round, report.Participants.Count * config.LocalEpisodes, report.Seconds, report.ServerLearningRate,
                    report.PreLoss, report.PostLoss, report.PreAccuracy, report.PostAccuracy), report.Seconds);
                if (trainer.CheckpointDue && !trainer.Finished) trainer.ToCheckpoint().Save(path);
                afterRound();
            }
            return stop.Requested;
        });
        updates += count;
        return interrupted;
    }

    private int Execute(ParseResult result)
    {
        bool json = result.GetValue(_json);
        var requested = _run.ToConfig(result);
        string path = Path.GetFullPath(result.GetValue(_checkpoint)
            ?? Path.Combine("runs", $"federated-{requested.Dataset}-{requested.Algorithm}", FederatedCheckpoint.FileName));
        FederatedCheckpoint? resume = null;
        FederatedConfig config;
        if (result.GetValue(_resume))
        {
            resume = FederatedCheckpoint.Load(path);
            config = _run.ForResume(result, resume.Config);
        }
        else
        {
            if (File.Exists(path) && !result.GetValue(_overwrite))
                throw new ArgumentException($"{path} already exists; pass --resume to continue that run, --overwrite to start afresh, or another --checkpoint.");
            config = requested;
        }
        config.Validate();

        TorchStartup.Initialize(config.Threads);
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        var clients = new SimulatedClients(FederatedClients.Cached(algorithm, federation), config);
        var trainer = new FederatedTrainer(algorithm, federation.TrainingIds, clients, resume);
        if (!json)
            Terminal.WriteStatus($"{federation.Description}; {config.Algorithm}, {config.ClientsPerRound} clients a round" +
                (resume is null ? "" : $"; resuming {path} at round {resume.Round} of {config.Rounds}"));

        var stats = new TrainingStats(trainer.Round, config.Rounds, config.ClientsPerRound * config.LocalEpisodes);
        long updates = 0;
        bool interrupted;
        using (var stop = new StopSignal())
        {
            try
            {
                interrupted = Train(trainer, config, stats, path, json, stop, ref updates);
            }
            catch (FederatedRoundException e)
            {
                // Too few clients answered: keep the rounds taken so far, and say what to change (exit 2).
                trainer.ToCheckpoint().Save(path);
                Terminal.WriteError(e.Message);
                Terminal.WriteDetail($"rounds completed: {trainer.Round}; checkpoint saved to {path}.");
                return ErrorReporter.UsageError;
            }
            trainer.ToCheckpoint().Save(path);
        }
        if (interrupted && !json)
            Terminal.WriteStatus($"stopped at round {trainer.Round} of {config.Rounds}; checkpoint saved. Continue with: metacluster federated simulate --resume --checkpoint {path}");

        ulong evalSeed = result.GetValue(_evalSeed);
        NewClientReport? before = null, after = null;
        if (!result.GetValue(_noEval) && !interrupted)
        {
            if (!json) Terminal.WriteStatus($"evaluating on {federation.NewClients.Count} new clients × {config.EvalEpisodes} episodes…");
            before = NewClientEvaluation.Evaluate(algorithm, trainer.Theta, federation.NewClients, config.EvalEpisodes, 0, evalSeed);
            after = NewClientEvaluation.Evaluate(algorithm, trainer.Theta, federation.NewClients, config.EvalEpisodes, config.EvalSteps, evalSeed);
        }
        var summary = new FederatedSummary("federated simulate", config, federation.Description, federation.Training.Count, federation.NewClients.Count,
            trainer.Round, !interrupted, trainer.Theta.Sha256(), algorithm.Layout.TotalCount, path,
            FederatedParticipation.Of(trainer.Participation, algorithm.Layout.TotalCount))
        {
            Stats = stats, UpdatesThisRun = updates, Before = before, After = after, EvalSeed = evalSeed,
        };
        if (json) JsonReport.Write(summary.ToJson());
        else summary.Render(Terminal.Out);
        return interrupted ? TrainCommand.Interrupted : 0;
    }
}
