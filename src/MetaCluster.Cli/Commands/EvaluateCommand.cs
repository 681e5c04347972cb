using System.CommandLine;
using System.Text.Json.Nodes;
using MetaCluster.Cli.Evaluation;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Training;
using Spectre.Console;

namespace MetaCluster.Cli.Commands;

/// <summary><c>metacluster evaluate</c>: scores a checkpoint's θ on held-out episodes of the run it was trained with.</summary>
public sealed class EvaluateCommand
{
    private readonly Option<string> _checkpoint = EvaluationOptions.Checkpoint("the checkpoint file (…/checkpoint.mcc)");
    private readonly Option<int> _episodes = new("--episodes")
    {
        Description = "held-out episodes (tasks) to average over",
        HelpName = "E",
        DefaultValueFactory = _ => EvaluationOptions.DefaultEpisodes,
    };
    private readonly Option<int?> _steps = new("--steps") { Description = "inner steps on each support set (default: the run's eval steps)", HelpName = "S" };
    private readonly Option<string> _batchNorm = new("--batch-norm")
    {
        Description = "how batch norm treats the query set (classification)",
        HelpName = "transductive|non-transductive|both",
        DefaultValueFactory = _ => "both",
    };
    private readonly Option<ulong> _evalSeed = EvaluationOptions.EvalSeed();
    private readonly Option<int?> _threads = EvaluationOptions.Threads();
    private readonly Option<string> _data = new("--data") { Description = "dataset folder on this machine, if not where the run was trained", HelpName = "DIR" };
    private readonly Option<bool> _json = EvaluationOptions.Json();
    private readonly Option<Core.Runtime.ComputeDevice> _device = DeviceOption.Create();
    private readonly Option<int?> _shots = new("--shots") { Description = "support examples per class in the evaluation episodes (default: the run's K), e.g. K=5 for a K=10-trained sinusoid model", HelpName = "K" };
    private readonly Option<int?> _ways = new("--ways")
    {
        Description = "classes per evaluation episode (default: the run's N) — for models without an N-way head (protonet, matchingnet), " +
                      "e.g. 5- and 20-way episodes from one 60-way-trained ProtoNet",
        HelpName = "N",
    };
    private readonly Option<int?> _queries = new("--queries") { Description = "query examples per class in the evaluation episodes (default: the run's)", HelpName = "Q" };
    private readonly Option<double?> _innerLr = EvaluationOptions.InnerLr();
    private readonly Option<int?> _evalBatch = new("--eval-batch") { Description = "reptile: support examples per adaptation step (default: the run's; 0 = all of them)", HelpName = "N" };

    public Command Build()
    {
        _batchNorm.AcceptOnlyFromAmong("transductive", "non-transductive", "both");
        var command = new Command("evaluate", "Evaluate a checkpoint on held-out episodes: mean ± 95% CI over E episodes.");
        foreach (var option in new Option[] { _checkpoint, _episodes, _steps, _ways, _shots, _queries, _innerLr, _evalBatch, _batchNorm, _evalSeed, _threads, _data, _json, _device })
            command.Add(option);
        command.SetAction(Execute);
        return command;
    }

    private int Execute(ParseResult result)
    {
        string path = Path.GetFullPath(result.GetValue(_checkpoint)!);
        var checkpoint = Checkpoint.Load(path);
        var config = checkpoint.Config;
        if (result.GetValue(_data) is { } data) config = config with { DataDir = data };
        if (result.GetValue(_threads) is { } threads) config = config with { Threads = threads };
        // K and Q shape the evaluation episodes only; θ does not depend on them (N-way would change the head).
        if (result.GetValue(_shots) is { } shots) config = config with { Shots = shots };
        if (result.GetValue(_queries) is { } queries) config = config with { Queries = queries };
        if (result.GetValue(_evalBatch) is { } evalBatch) config = config with { EvalBatch = evalBatch };
        int trainedWays = config.Ways;
        if (result.GetValue(_ways) is { } ways)
        {
            if (ways < 2) throw new ArgumentException($"--ways must be at least 2 (got {ways}).");
            config = config with { Ways = ways };
        }
        // So is the inner rate: adapting with another one is a question about θ, not another θ.
        config = EvaluationOptions.WithInnerLr(config, result.GetValue(_innerLr));
        double? innerLr = EvaluationOptions.AdaptationRate(config);
        int steps = result.GetValue(_steps) ?? config.EvalSteps;
        int episodes = result.GetValue(_episodes);
        ulong seed = result.GetValue(_evalSeed);
        BatchNormMode[] modes = result.GetValue(_batchNorm) switch
        {
            "transductive" => [BatchNormMode.Transductive],
            "non-transductive" => [BatchNormMode.NonTransductive],
            _ => HeldOutEvaluation.BothModes,
        };

        var device = result.GetValue(_device)!;
        TorchStartup.Initialize(config.Threads, device);
        var run = RunFactory.Create(config, device);
        if (!run.Algorithm.Layout.SameAs(checkpoint.Theta.Layout))
            throw new ArgumentException($"--ways {config.Ways}: this {config.Algorithm} checkpoint's model was built for {trainedWays}-way episodes " +
                $"({checkpoint.Theta.Layout.TotalCount:N0} parameters; {config.Ways}-way needs {run.Algorithm.Layout.TotalCount:N0}); only models without an N-way head " +
                "(protonet, matchingnet) evaluate at another way count — drop --ways.");
        var results = HeldOutEvaluation.Run(run, checkpoint.Theta, episodes, seed, steps, modes);

        if (result.GetValue(_json))
        {
            JsonReport.Write(new JsonObject
            {
                ["command"] = "evaluate",
                ["engine"] = "metacluster",
                ["checkpoint"] = path,
                ["round"] = checkpoint.Round,
                // The run's training time from the checkpoint, so a scoring line says what the result cost to train.
                ["train_wall_seconds"] = checkpoint.TrainingSeconds is { } trained ? JsonReport.Round(trained, 3) : null,
                ["ways"] = config.Ways,
                ["shots"] = config.Shots,
                ["queries"] = config.Queries,
                ["inner_lr"] = innerLr,
                ["theta_sha256"] = checkpoint.Theta.Sha256(),
                ["evaluation"] = EvaluationView.ToJson(results, episodes, seed),
                ["config"] = JsonReport.Config(config),
                ["torch"] = TorchStartup.Version,
            });
            return 0;
        }
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]evaluation[/]");
        table.AddColumn("");
        table.AddColumn("");
        table.HideHeaders();
        table.AddRow("checkpoint", Markup.Escape(path));
        table.AddRow("run", Markup.Escape($"{config.Dataset} / {config.Algorithm}, round {checkpoint.Round} of {config.Iterations}"));
        table.AddRow("trained for", checkpoint.TrainingSeconds is { } seconds ? Format.Seconds(seconds) : "not recorded in this checkpoint");
        table.AddRow("episodes", Markup.Escape($"{config.Ways}-way {config.Shots}-shot, {config.Queries} queries"));
        if (innerLr is { } rate)
            table.AddRow("inner rate", Markup.Escape(rate == checkpoint.Config.InnerLr ? FormattableString.Invariant($"{rate} (the run's)")
                : FormattableString.Invariant($"{rate} (the run trained with {checkpoint.Config.InnerLr})")));
        Terminal.Out.Write(table);
        Terminal.Out.MarkupLine($"θ SHA-256 [bold]{checkpoint.Theta.Sha256()}[/]");
        Terminal.Out.Write(EvaluationView.ToTable(results, episodes, seed));
        return 0;
    }
}
