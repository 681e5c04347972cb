using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;
using TorchSharp;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster bench</c>: a fixed number of meta-iterations, timed, then ONE JSON line with the same field names
/// as the plain-PyTorch peer scripts (shared/bench-peer/maml_sine.py, maml_omniglot.py), so a ratio is one division.
/// </summary>
public sealed class BenchCommand
{
    public const int SinusoidIterations = 1000, ClassificationIterations = 20, SinusoidEvalTasks = 1000;
    private static readonly int[] SinusoidEvalSteps = [0, 1, 10];

    private readonly RunOptions _run = new();
    private readonly Option<int?> _evalTasks = new("--eval-tasks", "--eval-episodes")
    {
        Description = $"held-out tasks/episodes evaluated after training (default {SinusoidEvalTasks} for sinusoid, 0 = none for classification, as the peers)",
        HelpName = "N",
    };
    private readonly Option<ulong> _evalSeed = EvaluationOptions.EvalSeed();
    private readonly Option<bool> _aggregation = new("--aggregation")
    {
        Description = "instead of training, time the coordinator's exact sum of contributions (a 5-way Conv4's size unless --parameters) and report a round's bytes with and without worker pre-summing",
        Arity = ArgumentArity.Zero,
    };
    private readonly Option<bool> _coordinator = new("--coordinator")
    {
        Description = "instead of training, measure how many contributions one coordinator grain aggregates per second from workers that answer at once (a Conv4-sized model; --workers slots, --iterations rounds)",
        Arity = ArgumentArity.Zero,
    };
    private readonly Option<int?> _parameters = new("--parameters") { Description = "with --aggregation: parameters per contribution", HelpName = "P" };
    private readonly Option<int> _contributions = new("--contributions") { Description = "with --aggregation: contributions to add", HelpName = "N", DefaultValueFactory = _ => 4000 };
    private readonly Option<int> _workers = new("--workers") { Description = "with --aggregation: workers sharing a round (for the bytes figure)", HelpName = "W", DefaultValueFactory = _ => 4 };
    private readonly Option<Core.Runtime.ComputeDevice> _device = DeviceOption.Create();
    private readonly SweepOptions _sweep = new();
    private readonly ScaleOptions _scale = new();

    public Command Build()
    {
        var command = new Command("bench", $"Time a fixed number of meta-iterations (default {SinusoidIterations} sinusoid, {ClassificationIterations} classification) and print one JSON line like the bench-peer scripts.");
        _run.AddTo(command);
        command.Add(_evalTasks);
        command.Add(_evalSeed);
        command.Add(_aggregation);
        command.Add(_coordinator);
        command.Add(_parameters);
        command.Add(_contributions);
        command.Add(_workers);
        command.Add(_device);
        _sweep.AddTo(command);
        _scale.AddTo(command);
        command.SetAction((result, _) => Execute(result));
        return command;
    }

    private async Task<int> Execute(ParseResult result)
    {
        var config = _run.ToConfig(result);
        if (RunOptions.WasGiven(result, _device) && (_sweep.Requested(result) || result.GetValue(_scale.Scale) || result.GetValue(_scale.Plot) is not null
            || result.GetValue(_coordinator) || result.GetValue(_aggregation)))
            throw new ArgumentException("--device applies to the timed training bench only (not --sweep, --scale, --coordinator or --aggregation).");
        if (_sweep.Requested(result)) return await Sweep(result, config);
        if (_scale.GivenAlone(result).ToArray() is { Length: > 0 } scaleOnly)
            throw new ArgumentException($"{string.Join(", ", scaleOnly)} only {(scaleOnly.Length == 1 ? "applies" : "apply")} with --scale or --scale-plot.");
        if (result.GetValue(_scale.Plot) is { } plotFrom)
        {
            Terminal.WriteStatus($"wrote {ScaleBench.Plot(plotFrom, result.GetValue(_scale.Png))}");
            return 0;
        }
        if (result.GetValue(_scale.Scale)) return await Scale(result, config);
        if (_sweep.GivenSweepOnly(result).ToArray() is { Length: > 0 } sweepOnly)
            throw new ArgumentException($"{string.Join(", ", sweepOnly)} only {(sweepOnly.Length == 1 ? "applies" : "apply")} with --sweep.");
        if (result.GetValue(_coordinator))
        {
            int rounds = RunOptions.WasGiven(result, _run.Iterations) ? config.Iterations : 100;
            if (rounds < 1) throw new ArgumentException($"--iterations must be at least 1 (got {rounds}).");
            // Both wire forms, back to back: a vector per episode, then one exact partial sum per worker share.
            foreach (bool perEpisode in new[] { true, false })
                JsonReport.Write(await CoordinatorBench.RunAsync(Math.Max(1, result.GetValue(_workers)), rounds,
                    RunOptions.WasGiven(result, _run.MetaBatch) ? config.MetaBatch : 32, perEpisode));
            return 0;
        }
        if (result.GetValue(_aggregation))
        {
            int contributions = result.GetValue(_contributions);
            if (contributions < 1) throw new ArgumentException($"--contributions must be at least 1 (got {contributions}).");
            JsonReport.Write(AggregationBench.Run(result.GetValue(_parameters) ?? AggregationBench.DefaultParameters, contributions,
                RunOptions.WasGiven(result, _run.MetaBatch) ? config.MetaBatch : 32, Math.Max(1, result.GetValue(_workers))));
            return 0;
        }
        if (!RunOptions.WasGiven(result, _run.Iterations))
            config = config with { Iterations = config.IsClassification ? ClassificationIterations : SinusoidIterations };
        // The peers score θ only after adaptation; doing the same keeps the work per episode equal.
        config = config with { PreAdaptationMetrics = false };
        int evalCount = result.GetValue(_evalTasks) ?? (config.IsClassification ? 0 : SinusoidEvalTasks);
        if (evalCount < 0) throw new ArgumentException($"--eval-tasks must be 0 (no evaluation) or more (got {evalCount}).");
        ulong evalSeed = result.GetValue(_evalSeed);

        var device = result.GetValue(_device)!;
        TorchStartup.Initialize(config.Threads, device);
        var load = Stopwatch.StartNew();
        var run = RunFactory.Create(config, device);
        double loadSeconds = load.Elapsed.TotalSeconds;

        var trainer = new MetaTrainer(run);
        var stats = new TrainingStats(0, config.Iterations, config.MetaBatch);
        var reports = new List<RoundReport>(config.Iterations);
        var roundSeconds = new List<double>(config.Iterations);
        var loop = new Stopwatch();
        ProgressView.Run($"bench {config.Dataset}/{config.Algorithm}", stats, live: false, afterRound =>
        {
            var round = new Stopwatch();
            while (!trainer.Finished)
            {
                loop.Start();
                round.Restart();
                var report = trainer.RunRound();
                loop.Stop();
                reports.Add(report);
                roundSeconds.Add(round.Elapsed.TotalSeconds);
                stats.Add(report, round.Elapsed.TotalSeconds);
                afterRound();
            }
            return 0;
        });
        double seconds = loop.Elapsed.TotalSeconds;

        var json = config.IsClassification
            ? Classification(config, run, trainer, reports, loadSeconds, seconds, evalCount, evalSeed)
            : Sinusoid(config, run, trainer, reports, seconds, evalCount, evalSeed);
        // "batching" is what was asked for, "mode" what ran: auto resolves per model and algorithm.
        json["batching"] = config.Batching;
        json["mode"] = run.Algorithm.UsesTaskBatching(run.Train.Kind) ? "batched" : "loop";
        // On a shared machine other load only ever adds time, so the fastest round is the steadiest figure of the work.
        json["round_seconds_min"] = JsonReport.Number(JsonReport.Round(roundSeconds.DefaultIfEmpty(double.NaN).Min(), 3));
        json["round_seconds_median"] = JsonReport.Number(JsonReport.Round(Median(roundSeconds), 3));
        json["pre_adaptation_metrics"] = config.PreAdaptationMetrics;
        json["peak_rss_mb"] = ProcessStats.PeakRssMegabytes();
        json["engine"] = "metacluster";
        json["device"] = device.Name;
        json["torch"] = TorchStartup.Version;
        JsonReport.Write(json);
        return 0;
    }

    /// <summary>One point of the scaling sweep on the cluster --cluster names (bench/scale.sh starts it).</summary>
    private async Task<int> Scale(ParseResult result, TrainingConfig config)
    {
        var address = _scale.Cluster.Address(result)
            ?? throw new ArgumentException("--scale needs --cluster redis://HOST:PORT: a cluster whose workers run with --simulate-episode-ms (see bench/scale.sh).");
        if (!RunOptions.WasGiven(result, _run.Iterations)) config = config with { Iterations = 20 };
        TorchStartup.Initialize(config.Threads);
        await using var cluster = await _scale.Cluster.ConnectAsync(result, address);
        JsonReport.Write(await ScaleBench.RunPointAsync(cluster, config, result.GetValue(_scale.EpisodeMs) ?? 0, result.GetValue(_scale.Label) ?? "strong",
            result.GetValue(_scale.Warmup), result.GetValue(_scale.PerSilo), result.GetValue(_scale.HubGroup)));
        return 0;
    }

    private Task<int> Sweep(ParseResult result, TrainingConfig config)
    {
        var others = new Option[] { _aggregation, _coordinator, _evalTasks, _evalSeed, _parameters, _contributions, _workers }
            .Where(o => RunOptions.WasGiven(result, o)).Select(o => o.Name).ToArray();
        if (others.Length > 0)
            throw new ArgumentException($"--sweep does not take {string.Join(", ", others)} (the workers sweep's slot counts are --sweep-workers).");
        int? curveRounds = RunOptions.WasGiven(result, _run.Iterations) ? config.Iterations : null;
        return SweepBench.RunAsync(_sweep.ToSettings(result, config, curveRounds), config, RunOptions.WasGiven(result, _run.Batching));
    }

    private static JsonObject Sinusoid(TrainingConfig config, TrainingRun run, MetaTrainer trainer, List<RoundReport> reports,
        double seconds, int evalTasks, ulong evalSeed)
    {
        var last100 = reports.TakeLast(100).ToList();
        var json = new JsonObject
        {
            ["algo"] = run.Algorithm.Name,
            ["iterations"] = config.Iterations,
            ["meta_batch"] = config.MetaBatch,
            ["k"] = config.Shots,
            ["inner_steps"] = config.InnerSteps,
            ["threads"] = torch.get_num_threads(),
            ["seed"] = config.Seed,
            ["seconds"] = Math.Round(seconds, 3),
            ["meta_iters_per_s"] = JsonReport.Number(JsonReport.Round(config.Iterations / seconds, 3)),
            ["tasks_per_s"] = JsonReport.Number(JsonReport.Round((double)config.Iterations * config.MetaBatch / seconds, 2)),
            ["train_loss_last100"] = JsonReport.Number(last100.Count > 0 ? last100.Average(r => r.PostLoss) : double.NaN),
        };
        if (evalTasks > 0)
        {
            var eval = new JsonObject { ["tasks"] = evalTasks, ["eval_seed"] = evalSeed };
            foreach (int steps in SinusoidEvalSteps)
            {
                var report = HeldOutEvaluation.Evaluate(run, trainer.Theta, evalTasks, evalSeed, steps, BatchNormMode.Transductive);
                eval[$"mse_{steps}step"] = JsonReport.MeanCi(report.Loss); // over the tasks that stayed finite
                if (report.Diverged > 0) eval[$"diverged_{steps}step"] = report.Diverged;
            }
            json["eval"] = eval;
        }
        return json;
    }

    private static JsonObject Classification(TrainingConfig config, TrainingRun run, MetaTrainer trainer, List<RoundReport> reports,
        double loadSeconds, double seconds, int evalEpisodes, ulong evalSeed)
    {
        var json = new JsonObject
        {
            ["algo"] = run.Algorithm.Name,
            ["dataset"] = config.Dataset,
            ["data"] = config.DataDir,
            ["rotate"] = config.Rotate,
            ["train_classes"] = ClassCount(run.Train),
            ["test_classes"] = ClassCount(run.Test),
            ["ways"] = config.Ways,
            ["shots"] = config.Shots,
            ["query"] = config.Queries,
            ["meta_batch"] = config.MetaBatch,
            ["inner_steps"] = config.InnerSteps,
            ["iterations"] = config.Iterations,
            ["threads"] = torch.get_num_threads(),
            ["seed"] = config.Seed,
            ["load_seconds"] = Math.Round(loadSeconds, 2),
            ["seconds"] = Math.Round(seconds, 3),
            ["meta_iters_per_s"] = JsonReport.Number(JsonReport.Round(config.Iterations / seconds, 4)),
            ["episodes_per_s"] = JsonReport.Number(JsonReport.Round((double)config.Iterations * config.MetaBatch / seconds, 3)),
            ["train_loss_last"] = JsonReport.Number(reports.LastOrDefault()?.PostLoss),
            ["train_query_acc_last"] = JsonReport.Number(reports.LastOrDefault()?.PostAccuracy),
        };
        if (evalEpisodes > 0)
        {
            var mode = run.Model.UsesBatchStatistics ? BatchNormMode.Transductive : (BatchNormMode?)null;
            var report = HeldOutEvaluation.Evaluate(run, trainer.Theta, evalEpisodes, evalSeed, config.EvalSteps, BatchNormMode.Transductive);
            json["eval"] = new JsonObject
            {
                ["episodes"] = evalEpisodes,
                ["steps"] = config.EvalSteps,
                ["eval_seed"] = evalSeed,
                ["acc_mean"] = JsonReport.Number(report.Accuracy?.Mean),
                ["acc_ci95"] = JsonReport.Number(report.Accuracy?.Ci95),
                ["batch_norm"] = EvaluationResult.BatchNormName(mode),
            };
        }
        return json;
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int? ClassCount(IEpisodeSource source) => source is ClassEpisodeSource classes ? classes.ClassCount : null;
}
