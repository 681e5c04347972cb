using System.CommandLine;
using MetaCluster.Cli.Options;
using MetaCluster.Cli.Output;
using MetaCluster.Cli.Startup;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster federated evaluate</c>: personalization of a checkpoint's θ on a federation's new clients — a
/// federated checkpoint on its own run's new clients, or a centralized <c>metacluster train</c> checkpoint (a Conv4 or
/// MLP θ of the same shape) on the new clients of the federation named by --dataset/--partition, so centralized
/// meta-learning is scored on exactly the clients the federated algorithms are.
/// </summary>
public sealed class FederatedEvaluateCommand
{
    /// <summary>Train algorithms whose θ is the plain model, adapted by SGD steps at α as the federated evaluation adapts.</summary>
    private static readonly string[] PlainModelAlgorithms = ["maml", "fomaml", "reptile"];

    private readonly Option<string> _checkpoint = EvaluationOptions.Checkpoint("the federated.mcc written by 'metacluster federated simulate', or a checkpoint.mcc of 'metacluster train'");
    private readonly Option<string> _data = new("--data") { Description = "the run's data folder, if it moved", HelpName = "DIR" };
    private readonly Option<int?> _episodes = new("--episodes") { Description = "evaluation episodes per new client (default: the run's)", HelpName = "E" };
    private readonly Option<int?> _steps = new("--steps") { Description = "adaptation steps (default: the run's)", HelpName = "S" };
    private readonly Option<ulong> _evalSeed = new("--eval-seed")
    {
        Description = "seed of the new clients' evaluation episodes",
        HelpName = "SEED",
        DefaultValueFactory = _ => NewClientEvaluation.DefaultSeed,
    };
    private readonly Option<string> _dataset = new("--dataset") { Description = "a train checkpoint: the federation whose new clients score it (default the train run's dataset)", HelpName = "sinusoid|omniglot|folder" };
    private readonly Option<string> _partition = new("--partition") { Description = "a train checkpoint: the federation's partition (default: the dataset's)", HelpName = "P" };
    private readonly Option<ulong?> _seed = new("--seed") { Description = "a train checkpoint: the federation's seed, which decides held-out clients of sinusoid/folder/Dirichlet federations (default 1, simulate's)", HelpName = "SEED" };
    private readonly Option<string> _curve = new("--curve") { Description = "also append the score as one learning-curve JSON line (as simulate --curve writes)", HelpName = "FILE" };
    private readonly Option<int?> _threads = EvaluationOptions.Threads();
    private readonly Option<bool> _json = EvaluationOptions.Json();

    public Command Build()
    {
        var command = new Command("evaluate", "Adapt a checkpoint's θ (federated, or a centralized train checkpoint) on each new client's support sets and score the query sets: mean ± 95% CI and the 10th-percentile client.")
        {
            _checkpoint, _data, _episodes, _steps, _evalSeed, _dataset, _partition, _seed, _curve, _threads, _json,
        };
        command.SetAction((result, _) => Task.FromResult(Execute(result)));
        return command;
    }

    private int Execute(ParseResult result)
    {
        string path = Path.GetFullPath(result.GetValue(_checkpoint)!);
        var scored = IsTrainCheckpoint(path) ? FromTrain(result, Checkpoint.Load(path), path) : FromFederated(result, FederatedCheckpoint.Load(path));
        var config = scored.Config;
        if (result.GetValue(_data) is { } data) config = config with { DataDir = data };
        if (result.GetValue(_episodes) is { } episodes) config = config with { EvalEpisodes = episodes };
        if (result.GetValue(_steps) is { } steps) config = config with { EvalSteps = steps };
        if (result.GetValue(_threads) is { } threads) config = config with { Threads = threads };
        config.Validate();

        TorchStartup.Initialize(config.Threads);
        var federation = Federations.Build(config);
        var algorithm = FederatedAlgorithm.Create(config);
        if (!scored.Theta.Layout.SameAs(algorithm.Layout))
            throw new ArgumentException($"{path} holds parameters {scored.Theta.Layout.Describe()}, not the {algorithm.Layout.Describe()} this federation's model has; " +
                "score a checkpoint of the same model and ways.");
        ulong evalSeed = result.GetValue(_evalSeed);
        var before = NewClientEvaluation.Evaluate(algorithm, scored.Theta, federation.NewClients, config.EvalEpisodes, 0, evalSeed);
        var after = NewClientEvaluation.Evaluate(algorithm, scored.Theta, federation.NewClients, config.EvalEpisodes, config.EvalSteps, evalSeed);
        var participation = FederatedParticipation.Of(scored.Participation, algorithm.Layout.TotalCount);
        if (result.GetValue(_curve) is { } curve)
            JsonLines.Append(curve, LearningCurve.Point("evaluate", scored.Source, scored.Round, scored.Algorithm, config, after,
                scored.Source == "federated" ? participation.BytesPerRound : null, scored.EpisodesTrained));
        var summary = new FederatedSummary("federated evaluate", config, federation.Description, federation.Training.Count, federation.NewClients.Count,
            scored.Round, scored.Finished, scored.Theta.Sha256(), algorithm.Layout.TotalCount, path, participation)
        {
            Before = before, After = after, EvalSeed = evalSeed, TrainedBy = scored.Source == "centralized" ? $"{scored.Algorithm} (centralized train)" : null,
            TrainingSeconds = scored.TrainingSeconds,
        };
        if (result.GetValue(_json)) JsonReport.Write(summary.ToJson());
        else summary.Render(Terminal.Out);
        return 0;
    }

    /// <summary>A θ to score, the federation config that names its new clients, and what trained it.</summary>
    private sealed record Scored(FederatedConfig Config, Core.Models.ParameterSet Theta, long Round, bool Finished, string Source, string Algorithm,
        long EpisodesTrained, IReadOnlyList<ParticipationRecord> Participation, double? TrainingSeconds);

    private Scored FromFederated(ParseResult result, FederatedCheckpoint checkpoint)
    {
        var given = new Option[] { _dataset, _partition, _seed }.Where(o => RunOptions.WasGiven(result, o)).Select(o => o.Name).ToArray();
        if (given.Length > 0)
            throw new ArgumentException($"{string.Join(" and ", given)} name the federation for a train checkpoint; a federated checkpoint is scored on its own run's new clients.");
        var config = checkpoint.Config;
        return new Scored(config, checkpoint.Theta, checkpoint.Round, checkpoint.Round >= config.Rounds, "federated", config.Algorithm,
            EpisodesTrained(checkpoint.Participation, config), checkpoint.Participation, checkpoint.TrainingSeconds);
    }

    /// <summary>
    /// A centralized run scored as a federation's new clients: the federation's published defaults for the dataset,
    /// with the train run's episode shape, seed, head and adaptation rate α (and its data folder unless --data).
    /// </summary>
    private Scored FromTrain(ParseResult result, Checkpoint checkpoint, string path)
    {
        var train = checkpoint.Config;
        if (!PlainModelAlgorithms.Contains(train.Algorithm))
            throw new ArgumentException($"{path} was trained with {train.Algorithm}, whose θ is not the plain model the federated evaluation adapts; " +
                $"score a checkpoint of {string.Join(", ", PlainModelAlgorithms)}.");
        string dataset = result.GetValue(_dataset) ?? train.Dataset;
        if ((train.Dataset == "sinusoid") != (dataset == "sinusoid"))
            throw new ArgumentException(train.Dataset == "sinusoid"
                ? $"{path} was trained on sinusoid (regression); score it on a sinusoid federation."
                : $"{path} was trained on {train.Dataset} (classification); score it on an omniglot or folder federation.");
        var config = FederatedConfig.ForAlgorithm(dataset, "fedmeta-maml") with
        {
            DataDir = train.DataDir, Ways = train.Ways, Shots = train.Shots, Queries = train.Queries, Hidden = train.Hidden,
            HeadInit = train.HeadInit, InnerLr = train.InnerLr, EvalSteps = train.EvalSteps, Threads = train.Threads,
            Rounds = (int)Math.Min(int.MaxValue, train.Iterations), Seed = result.GetValue(_seed) ?? new FederatedConfig().Seed,
        };
        if (result.GetValue(_partition) is { } partition) config = config with { Partition = partition };
        long rounds = checkpoint.Round;
        return new Scored(config, checkpoint.Theta, rounds, rounds >= train.Iterations, "centralized", train.Algorithm, rounds * train.MetaBatch, [],
            checkpoint.TrainingSeconds);
    }

    /// <summary>Local episodes the accepted updates trained on: rounds × completed clients × local episodes.</summary>
    public static long EpisodesTrained(IReadOnlyList<ParticipationRecord> log, FederatedConfig config) =>
        log.Where(r => r.Accepted).Sum(r => (long)r.Completed.Length) * config.LocalEpisodes;

    private static bool IsTrainCheckpoint(string path)
    {
        if (!File.Exists(path)) return false; // FederatedCheckpoint.Load says what is missing
        Span<byte> magic = stackalloc byte[8];
        using var file = File.OpenRead(path);
        return file.Read(magic) == 8 && magic.SequenceEqual("METACLCK"u8);
    }
}
