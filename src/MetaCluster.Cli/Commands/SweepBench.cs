using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Cli.Training;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster bench --sweep</c>: how cost grows. Each sweep times a few points — tasks/s against the meta-batch
/// size (loop and task-batched), the inner steps, and the worker slots of an embedded silo (through grains) — or
/// records a learning curve (query loss before and after adaptation, and accuracy, every round); each prints one JSON
/// line per point (the bench line's field names plus <c>sweep</c>) and writes &lt;out&gt;/sweep-&lt;name&gt;.csv and .png.
/// </summary>
public static class SweepBench
{
    public const string MetaBatch = "meta-batch", InnerSteps = "inner-steps", Workers = "workers", LearningCurve = "learning-curve";
    public static readonly string[] Names = [MetaBatch, InnerSteps, Workers, LearningCurve];

    public static readonly int[] DefaultMetaBatches = [1, 5, 10, 25, 50, 100], DefaultInnerSteps = [1, 2, 5, 10], DefaultWorkers = [1, 2, 4];
    public const int DefaultPointTasks = 5000, DefaultClassificationPointTasks = 64;
    public const int DefaultCurveRounds = 3000, DefaultClassificationCurveRounds = 200;
    public const int DefaultWidth = 800, DefaultHeight = 500;

    /// <summary>Untimed rounds before each throughput point (the first rounds pay for allocations and caches).</summary>
    public const string WarmupDescription = "2 untimed warm-up rounds (1 for classification)";
    private const int MinTimedRounds = 3;
    private const int CurveJsonLines = 20;

    public static async Task<int> RunAsync(SweepSettings settings, TrainingConfig config, bool batchingGiven)
    {
        config.Validate();
        Directory.CreateDirectory(settings.OutDir);
        TorchStartup.Initialize(config.Threads);
        if (SweepPlots.UseFonts() is { } warning) Terminal.WriteStatus($"warning: {warning}");
        var load = Stopwatch.StartNew();
        var baseRun = RunFactory.Create(config with { Batching = batchingGiven ? config.Batching : "auto" });
        Terminal.WriteStatus($"bench --sweep {string.Join(',', settings.Sweeps)}: {baseRun.DataDescription}, {baseRun.Algorithm.Name} on {baseRun.Model.Name}, " +
                             $"{config.Threads} thread(s) ({load.Elapsed.TotalSeconds:F1} s to load); files in {settings.OutDir}");
        var sweep = new Sweep(settings, config, baseRun);
        var written = new List<string>();
        foreach (string name in Names.Where(settings.Sweeps.Contains))
        {
            written.AddRange(name switch
            {
                MetaBatch => sweep.MetaBatches(batchingGiven),
                InnerSteps => sweep.InnerStepCounts(),
                Workers => await sweep.WorkerCounts(),
                _ => sweep.Curve(),
            });
        }
        foreach (string file in written) Terminal.WriteStatus($"wrote {file}");
        return 0;
    }

    /// <summary>
    /// One throughput measurement: <see cref="Rounds"/> timed rounds of <see cref="Config"/>. The rate is the median
    /// over <see cref="Blocks"/> consecutive blocks of rounds (each timed by its rounds' own clocks), which damps the
    /// bursts of other processes on a shared machine; <see cref="Seconds"/> is the whole timed span.
    /// </summary>
    private sealed record Point(string Sweep, string Path, string Mode, TrainingConfig Config, int Workers, int Rounds, double Seconds,
        IReadOnlyList<RoundReport> Reports, int? LiveWorkers = null, double? WallSeconds = null)
    {
        public const int Blocks = 5;
        public double RoundsPerSecond { get; } = MedianBlockRate(Reports);
        public double TasksPerSecond => RoundsPerSecond * Config.MetaBatch;
        public double TrainLoss => Reports.TakeLast(100).Select(r => r.PostLoss).DefaultIfEmpty(double.NaN).Average();
    }

    private sealed class Sweep(SweepSettings settings, TrainingConfig config, TrainingRun baseRun)
    {
        private readonly bool _classification = config.IsClassification;
        private string RateName => _classification ? "episodes_per_s" : "tasks_per_s";
        private string RateUnit => _classification ? "episodes/s" : "tasks/s";
        private int WarmupRounds => _classification ? 1 : 2;
        private string Subject => $"{DatasetLabel(config)} {AlgorithmLabel(config)}";

        public IEnumerable<string> MetaBatches(bool batchingGiven)
        {
            string[] modes = batchingGiven ? [config.Batching]
                : baseRun.Algorithm.UsesTaskBatching(baseRun.Train.Kind) ? ["loop", "batched"] : ["auto"];
            var points = new List<Point>();
            foreach (string mode in modes)
                foreach (int batch in settings.MetaBatches)
                    points.Add(Report(MeasureInProcess(MetaBatch, config with { MetaBatch = batch, Batching = mode })));
            var series = SeriesByMode(points, p => p.Config.MetaBatch);
            return Save(MetaBatch, points, series, $"{Subject}: {RateUnit} vs meta-batch size",
                "meta-batch size (tasks per round, log scale)", logX: true);
        }

        public IEnumerable<string> InnerStepCounts()
        {
            var points = settings.InnerSteps.Select(steps => Report(MeasureInProcess(InnerSteps, config with { InnerSteps = steps }))).ToList();
            var series = SeriesByMode(points, p => p.Config.InnerSteps);
            var first = points[0];
            series.Add(new PlotSeries($"cost linear in steps, from {first.Config.InnerSteps} step{(first.Config.InnerSteps == 1 ? "" : "s")}",
                points.Select(p => (double)p.Config.InnerSteps).ToArray(),
                points.Select(p => first.TasksPerSecond * first.Config.InnerSteps / p.Config.InnerSteps).ToArray(), Reference: true));
            return Save(InnerSteps, points, series, $"{Subject}: {RateUnit} vs inner steps (meta-batch {config.MetaBatch})",
                "inner-loop steps per task", logX: false);
        }

        /// <summary>One plotted line per batching mode: tasks/s against <paramref name="x"/>.</summary>
        private static List<PlotSeries> SeriesByMode(IEnumerable<Point> points, Func<Point, double> x) =>
            points.GroupBy(p => p.Mode).Select(g => new PlotSeries(ModeLabel(g.Key), g.Select(x).ToArray(), g.Select(p => p.TasksPerSecond).ToArray())).ToList();

        public async Task<IEnumerable<string>> WorkerCounts()
        {
            var points = new List<Point>();
            foreach (int workers in settings.Workers) points.Add(Report(await MeasureOnCluster(config, workers)));
            var inProcess = Report(MeasureInProcess(Workers, config));
            var first = points[0];
            int cores = Math.Max(1, Environment.ProcessorCount / config.Threads);
            var series = new List<PlotSeries>
            {
                new("through grains (embedded silo)", points.Select(p => (double)p.Workers).ToArray(), points.Select(p => p.TasksPerSecond).ToArray()),
                new("in-process trainer (no grains)", [1], [inProcess.TasksPerSecond]),
                // More slots than cores cannot add compute: the ideal grows with the slots up to the cores, then stays.
                new(config.Threads == 1 ? $"ideal: linear up to {cores} core{(cores == 1 ? "" : "s")}" : $"ideal: linear up to {cores} slots of {config.Threads} threads", points.Select(p => (double)p.Workers).ToArray(),
                    points.Select(p => first.TasksPerSecond * Math.Min(p.Workers, cores) / Math.Min(first.Workers, cores)).ToArray(), Reference: true),
            };
            points.Add(inProcess);
            return Save(Workers, points, series, $"{Subject}: {RateUnit} vs worker slots (meta-batch {config.MetaBatch})",
                $"worker slots, {config.Threads} libtorch thread{(config.Threads == 1 ? "" : "s")} each ({Environment.ProcessorCount}-core machine)", logX: false);
        }

        public IEnumerable<string> Curve()
        {
            var c = config with { Iterations = settings.CurveRounds, PreAdaptationMetrics = true };
            var trainer = new MetaTrainer(Derive(baseRun, c));
            var reports = new List<RoundReport>(c.Iterations);
            var elapsed = new List<double>(c.Iterations);
            int every = Math.Max(1, c.Iterations / CurveJsonLines);
            var clock = Stopwatch.StartNew();
            double windowStart = 0;
            while (!trainer.Finished)
            {
                reports.Add(trainer.RunRound());
                elapsed.Add(clock.Elapsed.TotalSeconds);
                if (reports.Count % every != 0 && !trainer.Finished) continue;
                var window = reports.TakeLast(reports.Count % every == 0 ? every : reports.Count % every).ToList();
                var json = new JsonObject
                {
                    ["sweep"] = LearningCurve, ["algo"] = baseRun.Algorithm.Name, ["dataset"] = c.Dataset,
                    ["round"] = reports.Count, ["rounds_in_window"] = window.Count, ["meta_batch"] = c.MetaBatch, ["inner_steps"] = c.InnerSteps,
                    ["threads"] = c.Threads, ["seed"] = c.Seed, ["seconds"] = Math.Round(elapsed[^1], 3),
                    [RateName] = JsonReport.Number(JsonReport.Round(window.Count * (double)c.MetaBatch / (elapsed[^1] - windowStart), 2)),
                    ["pre_loss"] = JsonReport.Number(Mean(window, r => r.PreLoss)),
                    ["post_loss"] = JsonReport.Number(Mean(window, r => r.PostLoss)),
                };
                if (_classification)
                {
                    json["pre_acc"] = JsonReport.Number(Mean(window, r => r.PreAccuracy));
                    json["post_acc"] = JsonReport.Number(Mean(window, r => r.PostAccuracy));
                }
                json["engine"] = "metacluster";
                JsonReport.Write(json);
                windowStart = elapsed[^1];
                Terminal.WriteStatus($"[{LearningCurve}] round {reports.Count}/{c.Iterations}: query loss {Mean(window, r => r.PreLoss):F4} before, {Mean(window, r => r.PostLoss):F4} after adaptation");
            }

            var table = new CsvTable("round", "seconds", "learning_rate", "pre_loss", "post_loss", "pre_acc", "post_acc");
            for (int i = 0; i < reports.Count; i++)
            {
                var r = reports[i];
                table.Add(r.Round + 1, Math.Round(elapsed[i], 3), r.LearningRate, r.PreLoss, r.PostLoss, r.PreAccuracy, r.PostAccuracy);
            }
            string csv = Path.Combine(settings.OutDir, $"sweep-{LearningCurve}.csv");
            table.Save(csv);
            var files = new List<string> { csv };

            double[] rounds = reports.Select(r => (double)(r.Round + 1)).ToArray();
            int smooth = Math.Max(1, reports.Count / 50);
            string title = $"{Subject} learning curve (meta-batch {c.MetaBatch}, {c.InnerSteps} inner step{(c.InnerSteps == 1 ? "" : "s")})";
            string lossLabel = _classification ? "query cross-entropy (nats)" : "query MSE";
            files.AddRange(Plot($"sweep-{LearningCurve}.png", path => SweepPlots.Curve(path, title, $"meta-loss: {lossLabel}",
            [
                new PlotSeries("before adaptation (θ)", rounds, reports.Select(r => r.PreLoss ?? double.NaN).ToArray()),
                new PlotSeries($"after {c.InnerSteps} inner step{(c.InnerSteps == 1 ? "" : "s")}", rounds, reports.Select(r => r.PostLoss).ToArray()),
            ], smooth, settings.Width, settings.Height)));
            if (_classification)
                files.AddRange(Plot($"sweep-{LearningCurve}-accuracy.png", path => SweepPlots.Curve(path, title, "query accuracy (%)",
                [
                    new PlotSeries("before adaptation (θ)", rounds, reports.Select(r => 100 * (r.PreAccuracy ?? double.NaN)).ToArray()),
                    new PlotSeries($"after {c.InnerSteps} inner step{(c.InnerSteps == 1 ? "" : "s")}", rounds, reports.Select(r => 100 * (r.PostAccuracy ?? double.NaN)).ToArray()),
                ], smooth, settings.Width, settings.Height, yMax: 100)));
            return files;
        }

        /// <summary>Times <c>config</c> on the single-process trainer, after warm-up rounds.</summary>
        private Point MeasureInProcess(string sweep, TrainingConfig pointConfig)
        {
            int timed = TimedRounds(pointConfig.MetaBatch);
            var c = pointConfig with { Iterations = WarmupRounds + timed, PreAdaptationMetrics = false };
            var run = Derive(baseRun, c);
            var trainer = new MetaTrainer(run);
            for (int i = 0; i < WarmupRounds; i++) trainer.RunRound();
            var reports = new List<RoundReport>(timed);
            var watch = Stopwatch.StartNew();
            while (!trainer.Finished) reports.Add(trainer.RunRound());
            return new Point(sweep, TrainingOutcome.InProcess, ModeOf(run), c, 1, timed, watch.Elapsed.TotalSeconds, reports);
        }

        /// <summary>Times <c>config</c> through the grains of a fresh embedded silo with <paramref name="workers"/> slots.</summary>
        private async Task<Point> MeasureOnCluster(TrainingConfig pointConfig, int workers)
        {
            int timed = TimedRounds(pointConfig.MetaBatch);
            var c = pointConfig with { Iterations = WarmupRounds + timed, PreAdaptationMetrics = false };
            await using var host = await ClusterHost.StartEmbeddedAsync(workers, c.Threads, gatewayPort: null);
            var client = new ClusterTrainingClient(host.Grains);
            string runId = $"sweep-workers-{workers}-{Guid.NewGuid():N}";
            var wall = Stopwatch.StartNew();
            var rounds = new List<RoundMetrics>();
            // No checkpoint directory: nothing is written.
            var result = await client.TrainAsync(runId, c, following: new RunFollowing
            {
                PollInterval = TimeSpan.FromMilliseconds(50), OnProgress = (_, latest) => rounds.AddRange(latest),
            });
            var status = result.Status;
            // The coordinator's own clock per round (dispatch, contributions, aggregation, the outer step), warm-up rounds left out.
            var timedRounds = rounds.Where(r => r.Round >= WarmupRounds).ToList();
            var reports = timedRounds.Select(r => new RoundReport(r.Round, r.Episodes, r.Seconds, r.LearningRate, r.PreLoss, r.PostLoss, r.PreAccuracy, r.PostAccuracy)).ToList();
            string mode = ModeOf(Derive(baseRun, c));
            return new Point(Workers, TrainingOutcome.Cluster, mode, c, workers, timedRounds.Count, timedRounds.Sum(r => r.Seconds), reports,
                status.LiveWorkers, wall.Elapsed.TotalSeconds);
        }

        private int TimedRounds(int metaBatch) => Math.Max(MinTimedRounds, (settings.PointTasks + metaBatch - 1) / metaBatch);

        /// <summary>Prints the point's JSON line (the bench line's field names, plus sweep, path and workers) and a status line.</summary>
        private Point Report(Point p)
        {
            var c = p.Config;
            var json = new JsonObject { ["sweep"] = p.Sweep, ["algo"] = baseRun.Algorithm.Name, ["mode"] = p.Mode, ["path"] = p.Path };
            if (_classification)
            {
                json["ways"] = c.Ways;
                json["shots"] = c.Shots;
                json["query"] = c.Queries;
            }
            else json["k"] = c.Shots;
            json["iterations"] = p.Rounds;
            json["meta_batch"] = c.MetaBatch;
            json["inner_steps"] = c.InnerSteps;
            json["workers"] = p.Workers;
            if (p.LiveWorkers is { } live) json["live_workers"] = live;
            json["threads"] = c.Threads;
            json["seed"] = c.Seed;
            json["seconds"] = Math.Round(p.Seconds, 3);
            if (p.WallSeconds is { } wall) json["wall_seconds"] = Math.Round(wall, 3);
            json["meta_iters_per_s"] = JsonReport.Number(JsonReport.Round(p.RoundsPerSecond, 3));
            json[RateName] = JsonReport.Number(JsonReport.Round(p.TasksPerSecond, 2));
            if (_classification)
            {
                json["train_loss_last"] = JsonReport.Number(p.Reports.LastOrDefault()?.PostLoss);
                json["train_query_acc_last"] = JsonReport.Number(p.Reports.LastOrDefault()?.PostAccuracy);
            }
            else json["train_loss_last100"] = JsonReport.Number(p.TrainLoss);
            json["engine"] = "metacluster";
            JsonReport.Write(json);
            Terminal.WriteStatus($"[{p.Sweep}] meta-batch {c.MetaBatch}, {c.InnerSteps} inner step(s), {p.Workers} worker(s), {p.Path} {p.Mode}: " +
                                 $"{p.TasksPerSecond.ToString("N0", CultureInfo.InvariantCulture)} {RateUnit} ({p.Rounds} rounds in {p.Seconds:F2} s)");
            return p;
        }

        private IEnumerable<string> Save(string name, IReadOnlyList<Point> points, IReadOnlyList<PlotSeries> series, string title, string xLabel, bool logX)
        {
            var table = new CsvTable("meta_batch", "inner_steps", "workers", "path", "mode", "threads", "iterations", "seconds",
                "meta_iters_per_s", RateName, _classification ? "train_loss_last" : "train_loss_last100");
            foreach (var p in points)
                table.Add(p.Config.MetaBatch, p.Config.InnerSteps, p.Workers, p.Path, p.Mode, p.Config.Threads, p.Rounds, Math.Round(p.Seconds, 4),
                    p.RoundsPerSecond, p.TasksPerSecond, _classification ? p.Reports.LastOrDefault()?.PostLoss : p.TrainLoss);
            string csv = Path.Combine(settings.OutDir, $"sweep-{name}.csv");
            table.Save(csv);
            return [csv, .. Plot($"sweep-{name}.png", path => SweepPlots.Lines(path, title, xLabel, $"throughput ({RateUnit})", series,
                settings.Width, settings.Height, logX))];
        }

        private IEnumerable<string> Plot(string file, Action<string> draw)
        {
            string path = Path.Combine(settings.OutDir, file);
            try
            {
                draw(path);
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException)
            {
                Terminal.WriteStatus($"warning: cannot draw {file}: SkiaSharp's native library did not load ({e.Message}); the CSV is written.");
                return [];
            }
            return [path];
        }
    }

    /// <summary>The base run with another config: same data and model (loaded once), the algorithm for this config.</summary>
    private static TrainingRun Derive(TrainingRun run, TrainingConfig config)
    {
        config.Validate();
        var algorithm = TrainingRun.CreateAlgorithm(config, run.Model);
        algorithm.Validate(run.Train.Kind);
        return run with { Config = config, Algorithm = algorithm };
    }

    private static string ModeOf(TrainingRun run) => run.Algorithm.UsesTaskBatching(run.Train.Kind) ? "batched" : "loop";

    private static string ModeLabel(string mode) => mode switch
    {
        "batched" => "batched (tasks stacked, --batching batched)",
        "loop" => "loop (one task at a time, --batching loop)",
        _ => mode,
    };

    private static double MedianBlockRate(IReadOnlyList<RoundReport> rounds)
    {
        int blocks = Math.Min(Point.Blocks, rounds.Count);
        if (blocks == 0) return double.NaN;
        var rates = Enumerable.Range(0, blocks).Select(b =>
        {
            var block = rounds.Skip(rounds.Count * b / blocks).Take(rounds.Count * (b + 1) / blocks - rounds.Count * b / blocks).ToList();
            return block.Count / block.Sum(r => r.Seconds);
        }).Order().ToArray();
        return blocks % 2 == 1 ? rates[blocks / 2] : (rates[blocks / 2 - 1] + rates[blocks / 2]) / 2;
    }

    private static double? Mean(IReadOnlyList<RoundReport> rounds, Func<RoundReport, double?> pick) =>
        rounds.Count == 0 || rounds.Any(r => pick(r) is null) ? null : rounds.Average(r => pick(r)!.Value);

    private static string DatasetLabel(TrainingConfig config) => config.Dataset switch
    {
        "sinusoid" => "Sinusoid",
        "omniglot" => $"Omniglot {config.Ways}-way {config.Shots}-shot",
        "mini-imagenet" => $"mini-ImageNet {config.Ways}-way {config.Shots}-shot",
        _ => $"{config.Ways}-way {config.Shots}-shot",
    };

    private static string AlgorithmLabel(TrainingConfig config) => config.Algorithm switch
    {
        "maml" => config.FirstOrder ? "FOMAML" : "MAML",
        "fomaml" => "FOMAML",
        "reptile" => "Reptile",
        "metasgd" => "Meta-SGD",
        "anil" => "ANIL",
        "protonet" => "ProtoNet",
        _ => config.Algorithm,
    };
}
