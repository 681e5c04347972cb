using System.CommandLine;
using System.Globalization;
using MetaCluster.Cli.Cluster;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Cli.Training;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;
using MetaCluster.Grains;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster train</c>: meta-trains through grains — on a silo embedded in this process (default) or, with
/// <c>--cluster</c>, on a running cluster — or with <c>--in-process</c> on Core's single-process trainer; checkpoints
/// every N rounds, at the end and on Ctrl+C; then evaluates θ on held-out episodes here and prints a summary (or one
/// JSON line). Every path gives the same θ bits for the same seed and config.
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
    private readonly Option<int?> _checkpointEvery = new("--checkpoint-every") { Description = "save a checkpoint every N rounds (default 1000; 0 = only at the end)", HelpName = "N" };
    private readonly Option<bool> _resume = new("--resume") { Description = "continue the checkpoint in --checkpoint-dir with its own config", Arity = ArgumentArity.Zero };
    private readonly Option<string> _init = new("--init")
    {
        Description = "start θ from a PyTorch state_dict (.pt from torch.save, or .safetensors; names as metacluster export writes them) instead of the seed's; parameters it does not name keep the seed's values",
        HelpName = "FILE",
    };
    private readonly Option<bool> _overwrite = new("--overwrite") { Description = "start afresh even if --checkpoint-dir already holds a checkpoint", Arity = ArgumentArity.Zero };
    private readonly Option<bool> _json = EvaluationOptions.Json();
    private readonly Option<Core.Runtime.ComputeDevice> _device = DeviceOption.Create();
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
    private readonly Option<double> _stallTimeout = new("--stall-timeout")
    {
        Description = "with --cluster or an embedded silo: give up (exit 2) when the run completes no round for this many seconds",
        HelpName = "SECONDS",
        DefaultValueFactory = _ => RunFollowing.DefaultStallTimeout.TotalSeconds,
    };
    private readonly Option<bool> _inProcess = new("--in-process")
    {
        Description = "train in this process with the single-process trainer instead of through grains (same θ bits)",
        Arity = ArgumentArity.Zero,
    };
    private readonly Option<int?> _workers = new("--workers")
    {
        Description = "worker slots: of the embedded silo (default min(2, cores ÷ --threads)); with --cluster, use at most N (default all)",
        HelpName = "N",
    };
    private readonly Option<bool> _perSilo = new("--per-silo")
    {
        Description = "send θ once to each worker silo, whose hub deals the share over its slots and returns one exact partial sum " +
                      "(fewer bytes with many slots a silo; same θ bits; not with --workers on a cluster)",
        Arity = ArgumentArity.Zero,
    };
    private readonly Option<int> _hubGroup = new("--hub-group")
    {
        Description = "with --per-silo: hubs in groups of N — the coordinator sends θ to one hub of each group, which deals part of its share " +
                      "to the others and adds their sums into its own (fewer bytes at the coordinator with many silos; same θ bits; default 1: none)",
        HelpName = "N", DefaultValueFactory = _ => 1,
    };
    private readonly Option<int?> _gatewayPort = new("--gateway-port")
    {
        Description = "gateway port of the embedded silo, for status/cancel from another terminal (default: a free port)",
        HelpName = "PORT",
    };
    private readonly Option<string> _runId = new("--run-id")
    {
        Description = "the run's id on the cluster (default <dataset>-<algorithm>-<yyyyMMddHHmmss>-<4 hex>)",
        HelpName = "ID",
    };
    private readonly ClusterConnectionOptions _cluster = new("train on a running cluster as a client instead of an embedded silo: Redis membership or silo gateways");

    public Command Build()
    {
        var command = new Command("train", "Meta-train a model through grains (an embedded silo, or --cluster), with checkpoints, then evaluate it on held-out episodes.");
        _run.AddTo(command);
        command.Add(_checkpointDir);
        command.Add(_checkpointEvery);
        command.Add(_resume);
        command.Add(_init);
        command.Add(_overwrite);
        command.Add(_json);
        command.Add(_device);
        command.Add(_evalEpisodes);
        command.Add(_evalSeed);
        command.Add(_noEval);
        command.Add(_timeLimit);
        command.Add(_stallTimeout);
        command.Add(_inProcess);
        command.Add(_workers);
        command.Add(_perSilo);
        command.Add(_hubGroup);
        command.Add(_gatewayPort);
        command.Add(_runId);
        _cluster.AddTo(command);
        command.SetAction((result, _) => Execute(result));
        return command;
    }

    private async Task<int> Execute(ParseResult result)
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
        string? init = result.GetValue(_init) is { } initFile ? Path.GetFullPath(initFile) : null;
        if (result.GetValue(_resume))
        {
            if (init is not null) throw new ArgumentException("--init gives a new run its θ; a resumed run goes on from its checkpoint's. Drop one of them.");
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
            if (every < 0) throw new ArgumentException($"--checkpoint-every must be 0 (only at the end) or more (got {every}).");
            config = config with { CheckpointEvery = every };
        }
        // pretrain's classifier spans every training class: counted here, so a cluster's coordinator needs no data.
        config = RunFactory.ResolvePretrainClasses(config);
        double? timeLimit = result.GetValue(_timeLimit);
        if (timeLimit is <= 0) throw new ArgumentException($"--time-limit must be a positive number of minutes (got {timeLimit}).");
        var deadline = timeLimit is { } minutes ? TimeSpan.FromMinutes(minutes) : TimeSpan.MaxValue;
        double stallSeconds = result.GetValue(_stallTimeout);
        if (stallSeconds <= 0) throw new ArgumentException($"--stall-timeout must be a positive number of seconds (got {stallSeconds}).");
        bool inProcess = result.GetValue(_inProcess);
        var address = _cluster.Address(result);
        CheckEngineOptions(result, inProcess, address);

        var device = result.GetValue(_device)!;
        if (address is not null && RunOptions.WasGiven(result, _device))
            throw new ArgumentException("--device picks where this process computes; with --cluster the workers compute, on the device each worker server was started with (metacluster-server --device).");
        TorchStartup.Initialize(config.Threads, device);
        var run = RunFactory.Create(config, device);
        if (init is not null)
        {
            // A round-0 checkpoint with the file's θ, which every engine then continues as it would a resumed run.
            var imported = ThetaImport.Read(init, run.Blueprint.InitialParameters());
            resume = new Checkpoint(config, 0, imported.Theta, run.CreateOptimizer().GetState(), TrainingSeconds: 0);
            if (!json)
                Terminal.WriteStatus($"θ from {init}: {imported.Taken.Count} of {run.Blueprint.Layout.Count} tensors" +
                    (imported.Kept.Count > 0 ? $"; from the seed: {string.Join(", ", imported.Kept)}" : "") +
                    (imported.Skipped.Count > 0 ? $"; skipped {imported.Skipped.Count} batch-norm running statistics" : "") + ".");
        }
        bool live = !json && Terminal.Interactive;
        if (resume is not null && init is null && !json)
            Terminal.WriteStatus($"resuming {checkpointPath} at round {resume.Round} of {config.Iterations}, with the checkpoint's config.");
        var plan = new TrainingPlan(config, resume, checkpointPath, deadline, live) { StallTimeout = TimeSpan.FromSeconds(stallSeconds) };
        var outcome = inProcess ? InProcessTraining.Run(run, plan) : await TrainOnCluster(result, run, plan, address);
        bool interrupted = outcome.Interrupted;

        if (!interrupted && outcome.Round < config.Iterations && !json)
            Terminal.WriteStatus($"time limit of {timeLimit} minutes reached at round {outcome.Round} of {config.Iterations}; checkpoint saved.");
        if (interrupted && !json)
            Terminal.WriteStatus($"stopped at round {outcome.Round} of {config.Iterations}; checkpoint saved. Continue with: metacluster train --resume --checkpoint-dir {directory}");

        ulong evalSeed = result.GetValue(_evalSeed);
        IReadOnlyList<EvaluationResult> evaluation = [];
        if (evaluate && !interrupted)
        {
            if (!json) Terminal.WriteStatus($"evaluating on {evalEpisodes} held-out episodes…");
            evaluation = HeldOutEvaluation.Run(run, outcome.Theta, evalEpisodes, evalSeed, config.EvalSteps, HeldOutEvaluation.BothModes);
        }

        var summary = new TrainSummary(config, outcome.Stats, outcome.Round, !interrupted, outcome.Theta.Sha256(), checkpointPath, evaluation, evalEpisodes, evalSeed)
        {
            EnginePath = outcome.EnginePath, RunId = outcome.RunId, Workers = outcome.Workers, Redispatched = outcome.Redispatched,
            TrainingSeconds = outcome.TrainingSeconds, InitializedFrom = init,
        };
        if (json) JsonReport.Write(summary.ToJson());
        else summary.Render(Terminal.Out);
        return interrupted ? Interrupted : 0;
    }

    /// <summary>The embedded silo's default slots: as many as the cores allow at --threads each, at most 2, at least 1.</summary>
    public static int DefaultWorkers(int threads) => Math.Max(1, Math.Min(2, Environment.ProcessorCount / Math.Max(1, threads)));

    /// <summary>A run id people can type: &lt;dataset&gt;-&lt;algorithm&gt;-&lt;yyyyMMddHHmmss&gt;-&lt;4 hex&gt;.</summary>
    public static string NewRunId(TrainingConfig config) =>
        $"{config.Dataset}-{config.Algorithm}-{DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..4]}";

    private void CheckEngineOptions(ParseResult result, bool inProcess, ClusterAddress? address)
    {
        if (inProcess)
        {
            var clusterOnly = new Option[] { _cluster.Cluster, _workers, _perSilo, _hubGroup, _gatewayPort, _runId, _cluster.ServiceId, _cluster.ClusterId, _stallTimeout }
                .Where(o => RunOptions.WasGiven(result, o)).Select(o => o.Name).ToArray();
            if (clusterOnly.Length > 0)
                throw new ArgumentException($"--in-process trains without a cluster; {string.Join(", ", clusterOnly)} only apply to training through grains.");
        }
        if (address is not null && RunOptions.WasGiven(result, _gatewayPort))
            throw new ArgumentException("--gateway-port sets the embedded silo's port; with --cluster no silo is started here.");
        if (result.GetValue(_workers) is < 1 and var w)
            throw new ArgumentException($"--workers must be at least 1 (got {w}).");
        if (address is not null && result.GetValue(_perSilo) && RunOptions.WasGiven(result, _workers))
            throw new ArgumentException("--per-silo uses every slot of every worker silo; with --cluster it cannot be combined with --workers (drop one).");
        if (result.GetValue(_hubGroup) is < 1 and var g)
            throw new ArgumentException($"--hub-group must be at least 1 (got {g}).");
        if (result.GetValue(_hubGroup) > 1 && !result.GetValue(_perSilo))
            throw new ArgumentException("--hub-group groups the worker silos' hubs: it needs --per-silo.");
        if (result.GetValue(_runId) is { } id && string.IsNullOrWhiteSpace(id))
            throw new ArgumentException("--run-id must not be empty.");
    }

    private async Task<TrainingOutcome> TrainOnCluster(ParseResult result, TrainingRun run, TrainingPlan plan, ClusterAddress? address)
    {
        var config = plan.Config;
        string runId = result.GetValue(_runId) ?? NewRunId(config);
        int? workers = result.GetValue(_workers);
        // Ctrl+C from here on cancels the run on the cluster (after it has started) instead of killing the process.
        using var stop = new StopSignal();
        await using var cluster = address is null
            ? await ClusterHost.StartEmbeddedAsync(workers ?? DefaultWorkers(config.Threads), config.Threads, result.GetValue(_gatewayPort),
                device: run.Algorithm.Options.Device)
            : await _cluster.ConnectAsync(result, address);
        Terminal.WriteStatus($"run {runId} on the {cluster.Description}; from another terminal: metacluster status --run {runId} --cluster {cluster.Address}");
        return await ClusterTraining.RunAsync(run.Blueprint, plan, cluster, runId, cluster.Embedded ? 0 : workers ?? 0, stop, result.GetValue(_perSilo), result.GetValue(_hubGroup));
    }
}
