using System.CommandLine;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;

namespace MetaCluster.Cli.Commands;

/// <summary><c>metacluster federated evaluate</c>: personalization of a federated checkpoint's θ on the run's new clients.</summary>
public sealed class FederatedEvaluateCommand
{
    private readonly Option<string> _checkpoint = EvaluationOptions.Checkpoint("the federated.mcc written by 'metacluster federated simulate'");
    private readonly Option<string> _data = new("--data") { Description = "the run's data folder, if it moved", HelpName = "DIR" };
    private readonly Option<int?> _episodes = new("--episodes") { Description = "evaluation episodes per new client (default: the run's)", HelpName = "E" };
    private readonly Option<int?> _steps = new("--steps") { Description = "adaptation steps (default: the run's)", HelpName = "S" };
    private readonly Option<ulong> _evalSeed = new("--eval-seed")
    {
        Description = "seed of the new clients' evaluation episodes",
        HelpName = "SEED",
        DefaultValueFactory = _ => NewClientEvaluation.DefaultSeed,
    };
    private readonly Option<int?> _threads = EvaluationOptions.Threads();
    private readonly Option<bool> _json = EvaluationOptions.Json();

    public Command Build()
    {
        var command = new Command("evaluate", "Adapt a federated checkpoint's θ on each new client's support sets and score the query sets: mean ± 95% CI and the 10th-percentile client.")
        {
            _checkpoint, _data, _episodes, _steps, _evalSeed, _threads, _json,
        };
        command.SetAction((result, _) => Task.FromResult(Execute(result)));
        return command;
    }

    private int Execute(ParseResult result)
    {
        string path = Path.GetFullPath(result.GetValue(_checkpoint)!);
        var checkpoint = FederatedCheckpoint.Load(path);
        var config = checkpoint.Config;
        if (result.GetValue(_data) is { } data) config = config with { DataDir = data };
        if (result.GetValue(_episodes) is { } episodes) config = config with { EvalEpisodes = episodes };
        if (result.GetValue(_steps) is { } steps) config = config with { EvalSteps = steps };
        if (result.GetValue(_threads) is { } threads) config = config with { Threads = threads };
        config.Validate();

        TorchStartup.Initialize(config.Threads);
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        if (!checkpoint.Theta.Layout.SameAs(algorithm.Layout))
            throw new ArgumentException($"{path} holds parameters {checkpoint.Theta.Layout.Describe()}, not {algorithm.Layout.Describe()}.");
        ulong evalSeed = result.GetValue(_evalSeed);
        var before = NewClientEvaluation.Evaluate(algorithm, checkpoint.Theta, federation.NewClients, config.EvalEpisodes, 0, evalSeed);
        var after = NewClientEvaluation.Evaluate(algorithm, checkpoint.Theta, federation.NewClients, config.EvalEpisodes, config.EvalSteps, evalSeed);
        var summary = new FederatedSummary("federated evaluate", config, federation.Description, federation.Training.Count, federation.NewClients.Count,
            checkpoint.Round, checkpoint.Round >= config.Rounds, checkpoint.Theta.Sha256(), algorithm.Layout.TotalCount, path,
            FederatedParticipation.Of(checkpoint.Participation, algorithm.Layout.TotalCount))
        {
            Before = before, After = after, EvalSeed = evalSeed,
        };
        if (result.GetValue(_json)) JsonReport.Write(summary.ToJson());
        else summary.Render(Terminal.Out);
        return 0;
    }
}
