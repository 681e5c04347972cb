using System.CommandLine;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Training;
using MetaCluster.Grains.Federated;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster federated simulate</c>: a federation's clients simulated on worker slots — of an embedded silo by
/// default, of a running cluster with --cluster — or in this process (--in-process); the same client trainer a
/// real client runs everywhere, the round loop of Core's <see cref="FederatedTrainer"/>, checkpoints every N rounds, at the end
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
        Description = "compute the sampled clients' updates in this process instead of on worker slots (same θ bits)",
        Arity = ArgumentArity.Zero,
    };
    private readonly Option<int?> _workers = new("--workers")
    {
        Description = "worker slots: of the embedded silo (default min(2, cores ÷ --threads)); with --cluster, use at most N (default all)",
        HelpName = "N",
    };
    private readonly ClusterConnectionOptions _cluster = new("simulate the clients on a running cluster's worker slots, as a client: Redis membership or silo gateways");
    private readonly Option<string> _participationLog = new("--participation-log")
    {
        Description = "append one JSON line per round: its samples, completed and dropped clients by id and reason, bytes, update norms",
        HelpName = "FILE",
    };
    private readonly Option<int?> _evalEvery = new("--eval-every")
    {
        Description = "score the new clients every R rounds (and at round 0 and the end) into --curve",
        HelpName = "R",
    };
    private readonly Option<int?> _curveClients = new("--curve-clients")
    {
        Description = "curve points use the first N new clients (default all); --eval-episodes episodes each",
        HelpName = "N",
    };
    private readonly Option<string> _curve = new("--curve")
    {
        Description = "append the learning curve here, one JSON line a point: round, algorithm, mean, ci95, p10, bytes_per_round",
        HelpName = "FILE",
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
        command.Add(_workers);
        _cluster.AddTo(command);
        command.Add(_participationLog);
        command.Add(_evalEvery);
        command.Add(_curveClients);
        command.Add(_curve);
        command.SetAction((result, _) => Execute(result));
        return command;
    }

    /// <summary>What the training loop writes besides checkpoints: the participation log and the learning curve.</summary>
    private sealed record RunOutputs(string? ParticipationLog, string? Curve, int? EvalEvery, IReadOnlyList<FederatedClientData> CurveClients, ulong EvalSeed);

    private static async Task<(bool Interrupted, long Updates)> Train(FederatedTrainer trainer, FederatedAlgorithm algorithm, TrainingStats stats, string path,
        bool json, StopSignal stop, RunOutputs outputs)
    {
        var config = algorithm.Config;
        long count = 0;
        if (outputs.EvalEvery is not null && trainer.Round == 0) WriteCurvePoint(trainer, algorithm, outputs, "curve");
        bool interrupted = await ProgressView.RunAsync($"federated {config.Dataset}/{config.Algorithm}", stats, !json && Terminal.Interactive, async afterRound =>
        {
            while (!trainer.Finished)
            {
                if (stop.Requested) return true;
                int logged = trainer.Participation.Count;
                var report = await trainer.RunRoundAsync();
                count += report.Participants.Count;
                stats.Add(new RoundReport(report.Round, report.Participants.Count * config.LocalEpisodes, report.Seconds, report.ServerLearningRate,
                    report.PreLoss, report.PostLoss, report.PreAccuracy, report.PostAccuracy), report.Seconds);
                if (outputs.ParticipationLog is { } log)
                    ParticipationLog.Append(log, ParticipationLog.Line(report, trainer.Participation.Skip(logged).ToArray()));
                if (trainer.CheckpointDue && !trainer.Finished) trainer.ToCheckpoint().Save(path);
                if (outputs.EvalEvery is { } every && (trainer.Round % every == 0 || trainer.Finished))
                    WriteCurvePoint(trainer, algorithm, outputs, trainer.Finished ? "final" : "curve");
                afterRound();
            }
            return stop.Requested;
        });
        return (interrupted, count);
    }

    private static void WriteCurvePoint(FederatedTrainer trainer, FederatedAlgorithm algorithm, RunOutputs outputs, string kind)
    {
        var config = algorithm.Config;
        var report = NewClientEvaluation.Evaluate(algorithm, trainer.Theta, outputs.CurveClients, config.EvalEpisodes, config.EvalSteps, outputs.EvalSeed);
        double? bytes = trainer.Round == 0 ? null : FederatedParticipation.Of(trainer.Participation, algorithm.Layout.TotalCount).BytesPerRound;
        JsonLines.Append(outputs.Curve!, LearningCurve.Point(kind, "federated", trainer.Round, config.Algorithm, config, report, bytes,
            FederatedEvaluateCommand.EpisodesTrained(trainer.Participation, config)));
    }

    private async Task<int> Execute(ParseResult result)
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
        bool inProcess = result.GetValue(_inProcess);
        var address = _cluster.Address(result);
        CheckEngineOptions(result, inProcess, address);
        var (evalEvery, curvePath) = (result.GetValue(_evalEvery), result.GetValue(_curve));
        if (evalEvery is < 1) throw new ArgumentException($"--eval-every must be at least 1 round (got {evalEvery}).");
        if (evalEvery is not null && curvePath is null) throw new ArgumentException("--eval-every needs --curve FILE to write the learning curve to.");
        if (curvePath is not null && evalEvery is null) throw new ArgumentException("--curve needs --eval-every R: how often to score the new clients.");
        if (result.GetValue(_curveClients) is < 1 and var cc) throw new ArgumentException($"--curve-clients must be at least 1 (got {cc}).");
        if (result.GetValue(_curveClients) is not null && evalEvery is null) throw new ArgumentException("--curve-clients applies to the learning curve; add --eval-every R and --curve FILE.");

        TorchStartup.Initialize(config.Threads);
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        await using var cluster = inProcess ? null : address is null
            ? await ClusterHost.StartEmbeddedAsync(result.GetValue(_workers) ?? TrainCommand.DefaultWorkers(config.Threads), config.Threads, gatewayPort: null)
            : await _cluster.ConnectAsync(result, address);
        IClientUpdateProvider clients = cluster is null
            ? new SimulatedClients(FederatedClients.Cached(algorithm, federation), config)
            : new WorkerSlotClients(cluster.Grains, config, $"federated-{config.Dataset}-{config.Algorithm}-{config.Seed}", cluster.Embedded ? 0 : result.GetValue(_workers) ?? 0);
        var trainer = new FederatedTrainer(algorithm, federation.TrainingIds, clients, resume);
        if (!json)
            Terminal.WriteStatus($"{federation.Description}; {config.Algorithm}, {config.ClientsPerRound} clients a round, " +
                (cluster is null ? "clients computed in this process" : $"clients computed on the worker slots of the {cluster.Description}") +
                (resume is null ? "" : $"; resuming {path} at round {resume.Round} of {config.Rounds}"));

        ulong evalSeed = result.GetValue(_evalSeed);
        var curveClients = federation.NewClients.Take(result.GetValue(_curveClients) ?? int.MaxValue).ToArray();
        if (evalEvery is not null && curveClients.Length == 0) throw new ArgumentException("the federation has no new clients for the learning curve; raise --eval-clients.");
        var outputs = new RunOutputs(result.GetValue(_participationLog), curvePath, evalEvery, curveClients, evalSeed);
        var stats = new TrainingStats(trainer.Round, config.Rounds, config.ClientsPerRound * config.LocalEpisodes);
        long updates = 0;
        bool interrupted;
        using (var stop = new StopSignal())
        {
            try
            {
                (interrupted, updates) = await Train(trainer, algorithm, stats, path, json, stop, outputs);
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
            Stats = stats, UpdatesThisRun = updates, Before = before, After = after, EvalSeed = evalSeed, TrainingSeconds = trainer.TrainingSeconds,
            Engine = cluster?.Description ?? "in process",
        };
        if (json) JsonReport.Write(summary.ToJson());
        else summary.Render(Terminal.Out);
        return interrupted ? TrainCommand.Interrupted : 0;
    }

    private void CheckEngineOptions(ParseResult result, bool inProcess, ClusterAddress? address)
    {
        if (inProcess)
        {
            var clusterOnly = new Option[] { _cluster.Cluster, _workers, _cluster.ServiceId, _cluster.ClusterId }
                .Where(o => RunOptions.WasGiven(result, o)).Select(o => o.Name).ToArray();
            if (clusterOnly.Length > 0)
                throw new ArgumentException($"--in-process computes the clients in this process; {string.Join(", ", clusterOnly)} only apply to simulating them on worker slots.");
        }
        if (result.GetValue(_workers) is < 1 and var w)
            throw new ArgumentException($"--workers must be at least 1 (got {w}).");
    }
}
