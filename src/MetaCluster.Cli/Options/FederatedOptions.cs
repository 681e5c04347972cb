using System.CommandLine;
using MetaCluster.Core.Federated;

namespace MetaCluster.Cli.Options;

/// <summary>
/// The options that define a federated run. A value given on the command line overrides
/// <see cref="FederatedConfig.ForAlgorithm"/>'s published defaults for the dataset and algorithm; nothing else does.
/// </summary>
public sealed class FederatedOptions : ConfigOptions<FederatedConfig>
{
    /// <summary>Options a resumed run may change: they do not alter the rounds already taken.</summary>
    public static readonly string[] ChangeableOnResume = ["--rounds", "--threads", "--data", "--eval-steps", "--eval-episodes", "--checkpoint-every"];

    public FederatedOptions() : base(ChangeableOnResume, "with another --checkpoint")
    {
        Dataset = BindChoosing(Choice("--dataset", "the federation's data (default sinusoid)", "sinusoid", "omniglot", "folder"), c => c.Dataset);
        Algorithm = BindChoosing(Choice("--algorithm", "client update and server step (default fedmeta-maml)", FederatedConfig.Algorithms), c => c.Algorithm);
        Bind(new Option<string>("--data") { Description = "Omniglot: the folder with images_background.zip and images_evaluation.zip; folder: DIR/<client>/<class>/*.png", HelpName = "DIR" },
            (c, v) => c with { DataDir = v }, c => c.DataDir);
        Bind(Choice("--partition", "sinusoid: range; omniglot: alphabet (default) or dirichlet; folder: folder (default) or dirichlet (DIR/<group>/<class>)", "range", "alphabet", "dirichlet", "folder"),
            (c, v) => c with { Partition = v! }, c => c.Partition);
        Bind(Number<double>("--alpha", "A", "Dirichlet concentration over label groups (small: non-IID)"), (c, v) => c with { Alpha = v!.Value }, c => c.Alpha);
        Bind(Number<int>("--clients", "N", "clients of a sinusoid or Dirichlet federation (default 100)"), (c, v) => c with { Clients = v!.Value }, c => c.Clients);
        Bind(Number<double>("--eval-clients", "F", "fraction of a sinusoid/folder/Dirichlet federation held out as new clients (default 0.2, seeded)"), (c, v) => c with { EvalClients = v!.Value }, c => c.EvalClients);
        Bind(Number<int>("--clients-per-round", "N", "clients sampled each round (default 8)"), (c, v) => c with { ClientsPerRound = v!.Value }, c => c.ClientsPerRound);
        Rounds = Bind(Number<int>("--rounds", "N", "rounds to run in total (default 200)"), (c, v) => c with { Rounds = v!.Value }, c => c.Rounds);
        Bind(Number<ulong>("--seed", "SEED", "run seed: θ₀, client sampling, every client's episodes (default 1)"), (c, v) => c with { Seed = v!.Value }, c => c.Seed);
        Bind(Number<int>("--ways", "N", "classes per episode (1 for sinusoid)"), (c, v) => c with { Ways = v!.Value }, c => c.Ways);
        Bind(Number<int>("--shots", "K", "support examples per class"), (c, v) => c with { Shots = v!.Value }, c => c.Shots);
        Bind(Number<int>("--queries", "Q", "query examples per class"), (c, v) => c with { Queries = v!.Value }, c => c.Queries);
        Bind(Flag("--rotate", "90° rotations of a character are classes of their own (default for omniglot)"), (c, _) => c with { Rotate = true }, c => c.Rotate);
        Bind(Flag("--no-rotate", "no rotated classes"), (c, _) => c with { Rotate = false }, c => c.Rotate);
        Bind(Choice("--head-init", "Conv4 classifier head: zeros (default for images) or normal (the MAML reference code)", "zeros", "normal"),
            (c, v) => c with { HeadInit = v! }, c => c.HeadInit);
        Bind(Number<int>("--local-episodes", "E", "episodes a client draws from its data each round"), (c, v) => c with { LocalEpisodes = v!.Value }, c => c.LocalEpisodes);
        Bind(Number<int>("--local-steps", "S", "local steps per episode (fedavg, fedadam, fedreptile, perfedavg)"), (c, v) => c with { LocalSteps = v!.Value }, c => c.LocalSteps);
        Bind(Number<double>("--local-lr", "LR", "local SGD rate (fedavg, fedadam, fedreptile); Per-FedAvg's beta"), (c, v) => c with { LocalLr = v!.Value }, c => c.LocalLr);
        Bind(Number<int>("--inner-steps", "S", "FedMeta's inner (adaptation) steps"), (c, v) => c with { InnerSteps = v!.Value }, c => c.InnerSteps);
        Bind(Number<double>("--inner-lr", "LR", "alpha: FedMeta's and Per-FedAvg's inner rate, and the personalization rate on new clients"), (c, v) => c with { InnerLr = v!.Value }, c => c.InnerLr);
        Bind(Choice("--server-optimizer", "the server step: sgd or adam (fedadam and fedmeta default to adam)", "sgd", "adam"), (c, v) => c with { ServerOptimizer = v! }, c => c.ServerOptimizer);
        Bind(Number<double>("--server-lr", "LR", "the server learning rate"), (c, v) => c with { ServerLr = v!.Value }, c => c.ServerLr);
        Bind(Choice("--weighting", "weight each update by its client's example count, or uniformly", "examples", "uniform"), (c, v) => c with { Weighting = v! }, c => c.Weighting);
        Bind(Number<double>("--min-completion", "F", "fraction of sampled clients that must answer, else the round is re-sampled (default 0.5)"), (c, v) => c with { MinCompletion = v!.Value }, c => c.MinCompletion);
        Bind(Number<double>("--deadline", "SECONDS", "a client's time to answer; later ones are left out (default 0: none)"), (c, v) => c with { DeadlineSeconds = v!.Value }, c => c.DeadlineSeconds);
        Bind(Number<int>("--max-attempts", "N", "samples a round may take before the run fails (default 5)"), (c, v) => c with { MaxAttempts = v!.Value }, c => c.MaxAttempts);
        Bind(Number<double>("--failure-rate", "P", "simulation: probability that a sampled client fails (seeded; default 0)"), (c, v) => c with { FailureRate = v!.Value }, c => c.FailureRate);
        Bind(Number<int>("--eval-steps", "S", "adaptation steps on each new client's support set"), (c, v) => c with { EvalSteps = v!.Value }, c => c.EvalSteps);
        Bind(Number<int>("--eval-episodes", "E", "evaluation episodes per new client (default 10)"), (c, v) => c with { EvalEpisodes = v!.Value }, c => c.EvalEpisodes);
        Bind(Number<int>("--checkpoint-every", "N", "save a checkpoint every N rounds (default 50; 0 = only at the end)"), (c, v) => c with { CheckpointEvery = v!.Value }, c => c.CheckpointEvery);
        Bind(Number<int>("--threads", "N", "libtorch intra-op threads (default 1)"), (c, v) => c with { Threads = v!.Value }, c => c.Threads);
    }

    public Option<string> Dataset { get; }
    public Option<string> Algorithm { get; }
    public Option<int?> Rounds { get; }

    public void AddTo(Command command) => AddBoundOptions(command);

    /// <summary>The published defaults of the dataset and algorithm, with every option given applied.</summary>
    public FederatedConfig ToConfig(ParseResult result)
    {
        var config = FederatedConfig.ForAlgorithm(result.GetValue(Dataset) ?? "sinusoid", result.GetValue(Algorithm) ?? "fedmeta-maml");
        return Apply(result, config);
    }
}
