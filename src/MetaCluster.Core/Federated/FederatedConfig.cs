using System.Text.Json;
using System.Text.Json.Serialization;

namespace MetaCluster.Core.Federated;

/// <summary>
/// Everything that defines a federated run: the federation (dataset, partition), the algorithm (client update and
/// server step), the round rules (sampling, deadline, minimum completion) and evaluation. Saved in every federated
/// checkpoint and sent, as JSON (<see cref="ToJson"/>), to real clients so they compute exactly what a simulated
/// client would. <see cref="ForAlgorithm"/> gives the published defaults (docs/federated.md).
/// </summary>
public sealed record FederatedConfig
{
    public static readonly string[] Algorithms =
        ["fedavg", "fedreptile", "fedadam", "fedmeta-maml", "fedmeta-fomaml", "fedmeta-metasgd", "perfedavg", "perfedavg-hf"];

    public string Dataset { get; init; } = "sinusoid";
    public string? DataDir { get; init; }

    /// <summary>sinusoid: "range"; omniglot: "alphabet" or "dirichlet"; folder: "folder" (DIR/&lt;client&gt;/&lt;class&gt;) or "dirichlet".</summary>
    public string Partition { get; init; } = "range";

    /// <summary>Dirichlet concentration over label groups: small = each client sees few groups (non-IID), large = IID.</summary>
    public double Alpha { get; init; } = 0.5;

    /// <summary>Clients of a sinusoid or Dirichlet federation (training and held-out together).</summary>
    public int Clients { get; init; } = 100;

    /// <summary>Fraction of a sinusoid/folder/Dirichlet federation's clients held out as new clients (seeded); Omniglot uses its evaluation alphabets.</summary>
    public double EvalClients { get; init; } = 0.2;

    public string Algorithm { get; init; } = "fedmeta-maml";
    public int ClientsPerRound { get; init; } = 8;
    public int Rounds { get; init; } = 200;
    public ulong Seed { get; init; } = 1;

    public int Ways { get; init; } = 1;
    public int Shots { get; init; } = 10;
    public int Queries { get; init; } = 10;
    public int[] Hidden { get; init; } = [40, 40];
    public bool Rotate { get; init; }
    public string HeadInit { get; init; } = "normal";

    /// <summary>Episodes a client draws from its own data each round.</summary>
    public int LocalEpisodes { get; init; } = 4;

    /// <summary>Local steps per episode: SGD steps (fedavg, fedadam), Reptile's inner steps (fedreptile), Per-FedAvg steps.</summary>
    public int LocalSteps { get; init; } = 5;

    /// <summary>Learning rate of local SGD (fedavg, fedadam, fedreptile) and Per-FedAvg's β.</summary>
    public double LocalLr { get; init; } = 0.01;

    /// <summary>The inner (adaptation) steps of FedMeta's MAML/Meta-SGD.</summary>
    public int InnerSteps { get; init; } = 1;

    /// <summary>α: the adaptation rate of FedMeta, Per-FedAvg's inner step and every algorithm's personalization.</summary>
    public double InnerLr { get; init; } = 0.01;

    /// <summary>"sgd" or "adam" (FedAdam; FedMeta's default).</summary>
    public string ServerOptimizer { get; init; } = "adam";
    public double ServerLr { get; init; } = 0.001;

    /// <summary>"examples" (each update weighted by its client's example count) or "uniform".</summary>
    public string Weighting { get; init; } = "examples";

    /// <summary>Fraction of a round's sampled clients that must answer; below it the round is re-sampled.</summary>
    public double MinCompletion { get; init; } = 0.5;

    /// <summary>Seconds a client has to answer; 0 = no deadline.</summary>
    public double DeadlineSeconds { get; init; }

    /// <summary>Samples a round may take before the run fails.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Simulation only: the probability that a sampled client fails (seeded by seed, round, attempt, client).</summary>
    public double FailureRate { get; init; }

    /// <summary>Adaptation steps when scoring new clients.</summary>
    public int EvalSteps { get; init; } = 10;

    /// <summary>Episodes per new client in the evaluation.</summary>
    public int EvalEpisodes { get; init; } = 10;

    public int CheckpointEvery { get; init; } = 50;
    public int Threads { get; init; } = 1;

    [JsonIgnore] public bool IsClassification => Dataset != "sinusoid";

    [JsonIgnore] public TimeSpan Deadline => DeadlineSeconds > 0 ? TimeSpan.FromSeconds(DeadlineSeconds) : Timeout.InfiniteTimeSpan;

    /// <summary>The published defaults of a dataset and algorithm (docs/federated.md).</summary>
    public static FederatedConfig ForAlgorithm(string dataset, string algorithm)
    {
        var config = dataset switch
        {
            "sinusoid" => new FederatedConfig { Dataset = dataset, Partition = "range", Ways = 1, Shots = 10, Queries = 10, InnerLr = 0.01, EvalSteps = 10 },
            "omniglot" => new FederatedConfig { Dataset = dataset, Partition = "alphabet", Ways = 5, Shots = 1, Queries = 15, InnerLr = 0.4, EvalSteps = 3, Rotate = true },
            "folder" => new FederatedConfig { Dataset = dataset, Partition = "folder", Ways = 5, Shots = 1, Queries = 5, InnerLr = 0.4, EvalSteps = 3 },
            _ => throw new ArgumentException($"unknown dataset '{dataset}'; use sinusoid, omniglot or folder."),
        };
        bool images = dataset != "sinusoid";
        // Conv4's head starts at zero for images (as the repo's Omniglot FOMAML benchmark, docs/benchmarks.md): with the
        // normal-initialised head, one inner step at α = 0.4 sends the query loss past 20 and the first rounds learn nothing.
        config = config with { Algorithm = algorithm, HeadInit = images ? "zeros" : "normal" };
        return algorithm switch
        {
            // McMahan et al. 2017: E local SGD steps, the server takes the mean of the deltas (server SGD, rate 1).
            "fedavg" => config with { ServerOptimizer = "sgd", ServerLr = 1.0, LocalSteps = 5, LocalLr = images ? 0.05 : 0.01 },
            // Reddi et al. 2021: FedAvg's client, Adam on the server with the mean delta as its (negative) gradient.
            "fedadam" => config with { ServerOptimizer = "adam", ServerLr = images ? 0.001 : 0.01, LocalSteps = 5, LocalLr = images ? 0.05 : 0.01 },
            // Nichol et al. 2018 / Jiang et al. 2019: each local episode a Reptile task, the server moves by ε toward the mean.
            "fedreptile" => config with { ServerOptimizer = "sgd", ServerLr = 1.0, LocalSteps = 5, LocalLr = images ? 0.05 : 0.01 },
            // Chen et al. 2018 (FedMeta): the client's meta-batch meta-gradient, Adam on the server (MAML's β).
            "fedmeta-maml" or "fedmeta-fomaml" or "fedmeta-metasgd" => config with { ServerOptimizer = "adam", ServerLr = 0.001, InnerSteps = 1 },
            // Fallah et al. 2020: τ local steps w ← w − β·∇f(w − α∇f(w)), the server averages the models.
            "perfedavg" or "perfedavg-hf" => config with { ServerOptimizer = "sgd", ServerLr = 1.0, LocalSteps = 2, LocalLr = images ? 0.01 : 0.005 },
            _ => throw new ArgumentException($"unknown federated algorithm '{algorithm}'; use {string.Join(", ", Algorithms)}."),
        };
    }

    /// <summary>Checks every setting, and that an image federation names its data folder.</summary>
    public void Validate()
    {
        ValidateSettings();
        if (Dataset != "sinusoid" && DataDir is null)
            throw new ArgumentException($"--dataset {Dataset} needs --data DIR: " + (Dataset == "omniglot"
                ? "the folder holding images_background.zip and images_evaluation.zip."
                : "a folder with one sub-folder per client, each holding one sub-folder of images per class."));
    }

    /// <summary>Every setting but the data folder, which a real client replaces with its own.</summary>
    public void ValidateSettings()
    {
        if (Dataset is not ("sinusoid" or "omniglot" or "folder")) throw new ArgumentException($"unknown dataset '{Dataset}'; use sinusoid, omniglot or folder.");
        if (!Algorithms.Contains(Algorithm)) throw new ArgumentException($"unknown federated algorithm '{Algorithm}'; use {string.Join(", ", Algorithms)}.");
        string[] partitions = Dataset switch { "sinusoid" => ["range"], "omniglot" => ["alphabet", "dirichlet"], _ => ["folder", "dirichlet"] };
        if (!partitions.Contains(Partition))
            throw new ArgumentException($"--partition {Partition} does not apply to {Dataset}; use {string.Join(" or ", partitions)}.");
        if (!(Alpha > 0) || !double.IsFinite(Alpha)) throw new ArgumentException($"--alpha must be a positive number (got {Alpha}).");
        if (Clients < 2) throw new ArgumentException($"a federation needs at least 2 clients (got {Clients}).");
        if (!(EvalClients >= 0 && EvalClients < 1)) throw new ArgumentException($"--eval-clients is a fraction in [0, 1) (got {EvalClients}).");
        if (ClientsPerRound < 1) throw new ArgumentException($"--clients-per-round must be at least 1 (got {ClientsPerRound}).");
        if (Rounds < 0) throw new ArgumentException($"--rounds must be 0 or more (got {Rounds}).");
        if (LocalEpisodes < 1) throw new ArgumentException($"--local-episodes must be at least 1 (got {LocalEpisodes}).");
        if (LocalSteps < 1) throw new ArgumentException($"--local-steps must be at least 1 (got {LocalSteps}).");
        if (InnerSteps < 0) throw new ArgumentException($"--inner-steps must be 0 or more (got {InnerSteps}).");
        if (!(LocalLr > 0) || !double.IsFinite(LocalLr)) throw new ArgumentException($"--local-lr must be a positive number (got {LocalLr}).");
        if (!(InnerLr > 0) || !double.IsFinite(InnerLr)) throw new ArgumentException($"--inner-lr must be a positive number (got {InnerLr}).");
        if (ServerOptimizer is not ("sgd" or "adam")) throw new ArgumentException($"the server optimizer is sgd or adam (got '{ServerOptimizer}').");
        if (!(ServerLr >= 0) || !double.IsFinite(ServerLr)) throw new ArgumentException($"--server-lr must be a non-negative number (got {ServerLr}).");
        if (Weighting is not ("examples" or "uniform")) throw new ArgumentException($"--weighting is examples or uniform (got '{Weighting}').");
        if (!(MinCompletion > 0 && MinCompletion <= 1)) throw new ArgumentException($"--min-completion is a fraction in (0, 1] (got {MinCompletion}).");
        if (!(DeadlineSeconds >= 0) || !double.IsFinite(DeadlineSeconds)) throw new ArgumentException($"--deadline is seconds, 0 for none (got {DeadlineSeconds}).");
        if (MaxAttempts < 1) throw new ArgumentException($"a round needs at least one attempt (got {MaxAttempts}).");
        if (!(FailureRate >= 0 && FailureRate < 1)) throw new ArgumentException($"--failure-rate is a probability in [0, 1) (got {FailureRate}).");
        if (EvalSteps < 0 || EvalEpisodes < 1) throw new ArgumentException($"evaluation needs 0 or more steps and at least one episode per client (got {EvalSteps}, {EvalEpisodes}).");
        if (CheckpointEvery < 0) throw new ArgumentException($"--checkpoint-every must be 0 or more (got {CheckpointEvery}).");
        if (Threads < 1) throw new ArgumentException($"--threads must be at least 1 (got {Threads}).");
        if (HeadInit is not ("normal" or "zeros")) throw new ArgumentException($"the head initialisation is normal or zeros (got '{HeadInit}').");
        if (Dataset == "sinusoid" && Ways != 1) throw new ArgumentException($"sinusoid regression has no classes: leave --ways at 1 (got {Ways}).");
        if (Dataset != "sinusoid" && Ways < 2) throw new ArgumentException($"classification needs at least 2 ways (got {Ways}).");
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    /// <summary>The config as one JSON object (snake_case keys): what the gateway hands a real client.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads <see cref="ToJson"/>'s form (missing keys take their defaults) and validates its settings.</summary>
    public static FederatedConfig FromJson(string json)
    {
        FederatedConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<FederatedConfig>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"the federated config is not valid JSON ({e.Message}).", e);
        }
        if (config is null) throw new ArgumentException("the federated config is empty (JSON null).");
        config.ValidateSettings();
        return config;
    }
}
