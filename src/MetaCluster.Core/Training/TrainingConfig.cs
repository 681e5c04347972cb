using System.Text.Json.Serialization;

namespace MetaCluster.Core.Training;

/// <summary>
/// Everything that defines a training run. Saved in every checkpoint, so a run can be resumed or evaluated with
/// exactly the settings it was trained with. <see cref="ForDataset"/> gives the papers' defaults.
/// </summary>
public sealed record TrainingConfig
{
    public string Dataset { get; init; } = "sinusoid";
    public string Algorithm { get; init; } = "maml";
    /// <summary>First-order variant (implied by "fomaml"; optional for metasgd and anil).</summary>
    public bool FirstOrder { get; init; }
    public string? DataDir { get; init; }
    /// <summary>Omniglot split: "maml" (1,200/423 pooled characters, seeded) or "lake" (background/evaluation); mini-ImageNet: "ravi" (its train/val/test.csv).</summary>
    public string Split { get; init; } = "maml";
    /// <summary>mini-ImageNet: the folder holding train.csv, val.csv and test.csv when they are not in <see cref="DataDir"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SplitCsvDir { get; init; }
    /// <summary>Conv4 filters per layer; 0 = the model's default (64). Left out of the JSON at 0, so older configs read back unchanged.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int Filters { get; init; }
    /// <summary>
    /// How Conv4's blocks halve the map: null for a 2×2 max-pool (the default), "stride" for stride-2 convolutions and an
    /// averaged last map (MAML's and Reptile's Omniglot network). Left out of the JSON when null, so older configs read back unchanged.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ConvDownsample { get; init; }
    public bool Rotate { get; init; }
    public int ValidationClasses { get; init; }
    public int Ways { get; init; } = 1;
    public int Shots { get; init; } = 10;
    public int Queries { get; init; } = 10;
    public int MetaBatch { get; init; } = 25;
    public int InnerSteps { get; init; } = 1;
    public double InnerLr { get; init; } = 0.01;
    public string ReptileInner { get; init; } = "sgd";
    /// <summary>Reptile: examples per inner step, dealt from a shuffle of the task's examples; 0 = all. Left out of the JSON at 0.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int InnerBatch { get; init; }
    /// <summary>Reptile: support examples per evaluation step, dealt from a shuffle of the support set; 0 = all. Left out of the JSON at 0.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int EvalBatch { get; init; }
    /// <summary>
    /// Reptile's inner Adam: null for a fresh Adam per task, "carried" for its second moment and step count carried from
    /// round to round beside θ, as the reference code's one Adam is. Left out of the JSON when null.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ReptileAdamState { get; init; }
    public string OuterOptimizer { get; init; } = "adam";
    public double OuterLr { get; init; } = 0.001;
    /// <summary>Outer learning rate reached linearly at the last iteration (Reptile's annealing); null = constant.</summary>
    public double? OuterLrFinal { get; init; }
    public int Iterations { get; init; } = 70_000;
    public ulong Seed { get; init; }
    public int Threads { get; init; } = 1;
    public int[] Hidden { get; init; } = [40, 40];
    public int EvalSteps { get; init; } = 10;
    /// <summary>Measure query loss/accuracy before adaptation every episode (one extra query forward pass).</summary>
    public bool PreAdaptationMetrics { get; init; } = true;
    /// <summary>Conv4 head initialisation: "normal" (MAML reference code) or "zeros".</summary>
    public string HeadInit { get; init; } = "normal";
    /// <summary>"auto" (the model's measured choice: task-batched for MLPs, one at a time for Conv4), "loop" or "batched".</summary>
    public string Batching { get; init; } = "auto";
    /// <summary>Rounds between checkpoints; 0 = only at the end (see <see cref="CheckpointCadence"/>).</summary>
    public int CheckpointEvery { get; init; } = 1000;
    /// <summary>Matching networks: full context embeddings (bidirectional LSTM over the support set, attention LSTM for queries).</summary>
    public bool FullContextEmbeddings { get; init; }
    /// <summary>Pre-train baseline's classifier: "cosine" (Baseline++, Chen et al. 2019) or "linear" (Baseline).</summary>
    public string PretrainHead { get; init; } = "cosine";
    /// <summary>Pre-train baseline: classes of the pre-training classifier (every training class); 0 = count them from the data.</summary>
    public int PretrainClasses { get; init; }
    /// <summary>"auto" (the dataset's model: MLP, Conv4, or the LSTM for sine-sequence) or "lstm" (<see cref="Models.LstmSequenceModel"/>).</summary>
    public string Model { get; init; } = "auto";

    // MAML++ (Antoniou et al. 2019; docs/algorithms.md "MAML++"): each an option of maml/fomaml, all set by WithMamlPlusPlus.
    /// <summary>MSL: the query loss after every inner step, weights annealed over <see cref="MslIterations"/> rounds.</summary>
    public bool MultiStepLoss { get; init; }
    /// <summary>Rounds over which the MSL weights anneal to the last step (reference: 15 epochs × 500 iterations).</summary>
    public int MslIterations { get; init; } = 7_500;
    /// <summary>BNWB: one batch-norm (γ, β) per inner step in θ (Conv4 only); statistics are each batch's own.</summary>
    public bool PerStepBn { get; init; }
    /// <summary>LSLR: one learned inner learning rate per parameter tensor per inner step, in θ.</summary>
    public bool LearnedInnerLr { get; init; }
    /// <summary>DA: the first N rounds are first order, the rest second order (0 = second order throughout).</summary>
    public int DerivativeOrderAnnealing { get; init; }
    /// <summary>CA: cosine annealing of the outer learning rate from OuterLr to <see cref="OuterLrMin"/> over the run.</summary>
    public bool CosineOuterLr { get; init; }
    public double OuterLrMin { get; init; } = 1e-5;
    /// <summary>
    /// Step decay: the outer learning rate halves every N rounds (Snell et al. 2017 halve it every 2,000 episodes);
    /// 0 = off. Unlike the linear and cosine schedules it does not depend on the run's length, so a run continued with
    /// <c>--resume --iterations</c> follows the same rates. Left out of the JSON at 0, so older configs read back unchanged.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int OuterLrHalveEvery { get; init; }

    [JsonIgnore] public bool UsesMamlPlusPlusInnerLoop => MultiStepLoss || PerStepBn || LearnedInnerLr || DerivativeOrderAnnealing > 0;

    [JsonIgnore] public bool IsClassification => Dataset is not ("sinusoid" or "sine-sequence");

    /// <summary>
    /// The published defaults for a dataset and algorithm (Finn et al. 2017; Nichol et al. 2018; Snell et al. 2017).
    /// <paramref name="shots"/> matters where the papers' settings depend on it (mini-ImageNet's meta-batch).
    /// </summary>
    public static TrainingConfig ForDataset(string dataset, string algorithm, int? shots = null)
    {
        bool reptile = algorithm == "reptile";
        var config = new TrainingConfig { Dataset = dataset, Algorithm = algorithm, FirstOrder = algorithm == "fomaml" };
        config = dataset switch
        {
            "sinusoid" => config with { Ways = 1, Shots = 10, Queries = 10, MetaBatch = 25, InnerLr = 0.01, Iterations = 70_000, EvalSteps = 10 },
            "sine-sequence" => config with { Ways = 1, Shots = 10, Queries = 10, MetaBatch = 25, InnerLr = 0.01, Iterations = 70_000, EvalSteps = 10, Hidden = [40], Model = "lstm" },
            "omniglot" or "folder" => config with { Ways = 5, Shots = 1, Queries = 15, MetaBatch = 32, InnerLr = 0.4, Iterations = 60_000, EvalSteps = 3, Rotate = dataset == "omniglot" },
            // Finn et al. 2017 (MAML), section 5.2 and the reference code's flags: Conv4 with 32 filters (fewer to curb
            // overfitting), 15 queries per class, inner lr 0.01 with 5 steps in training and 10 at test, meta-batch 4
            // for 1-shot and 2 for 5-shot, Adam 0.001 outside, 60,000 iterations.
            "mini-imagenet" => config with
            {
                Ways = 5, Shots = shots ?? 1, Queries = 15, MetaBatch = shots is > 1 ? 2 : 4, InnerLr = 0.01, InnerSteps = 5, EvalSteps = 10,
                OuterLr = 0.001, Iterations = 60_000, Split = "ravi", Filters = 32,
            },
            _ => throw new ArgumentException($"unknown dataset '{dataset}'; use sinusoid, sine-sequence, omniglot, mini-imagenet or folder."),
        };
        // Snell et al. 2017 (prototypical networks): Adam at 1e-3 halved every 2,000 episodes, one episode per update —
        // so every 2,000 rounds (Adam steps) whatever the meta-batch; the same 4 blocks with 64 filters on mini-ImageNet.
        if (algorithm == "protonet" && dataset is not ("sinusoid" or "sine-sequence"))
            config = config with { OuterLrHalveEvery = 2000 };
        if (dataset == "mini-imagenet" && algorithm == "protonet")
            config = config with { Filters = 64 };
        // Santoro et al. 2016: a 200-unit LSTM controller, episodes of 10 presentations per class, Adam at 1e-4 there.
        if (algorithm == "mann")
            config = config with { Shots = 1, Queries = 9, MetaBatch = 16, InnerSteps = 0, EvalSteps = 0, Hidden = [200] };
        // Ravi & Larochelle 2017: 5 learner updates by the meta-learner (first order), evaluated with the same count.
        if (algorithm == "lstm-meta")
            config = config with { InnerSteps = 5, EvalSteps = 5, FirstOrder = true };
        if (reptile)
        {
            config = config with { InnerSteps = 5, OuterOptimizer = "sgd", OuterLr = 1.0, OuterLrFinal = 0.0 };
            if (dataset != "sinusoid")
                config = config with { ReptileInner = "adam", InnerLr = 0.001, MetaBatch = 5, Queries = 5, EvalSteps = 50 };
            // Nichol et al. 2018, mini-ImageNet: 8 inner iterations (Omniglot's 5 otherwise).
            if (dataset == "mini-imagenet")
                config = config with { InnerSteps = 8 };
        }
        if (algorithm == "pretrain" && dataset != "sinusoid")
            // Chen et al. 2019: ordinary mini-batches over all training classes; at test time 100 steps on a new head.
            config = config with { MetaBatch = 4, Iterations = 20_000, InnerLr = 0.1, EvalSteps = 100 };
        return config;
    }

    public void Validate()
    {
        string[] algorithms = ["maml", "fomaml", "reptile", "metasgd", "anil", "protonet",
            "matchingnet", "metanet", "pretrain",
            "mann", "lstm-meta"];
        if (!algorithms.Contains(Algorithm)) throw new ArgumentException($"unknown algorithm '{Algorithm}'; use {string.Join(", ", algorithms)}.");
        if (MetaBatch < 1) throw new ArgumentException($"the meta-batch must hold at least one episode (got {MetaBatch}).");
        if (Iterations < 0) throw new ArgumentException($"iterations must be 0 or more (got {Iterations}).");
        if (CheckpointEvery < 0) throw new ArgumentException($"checkpoint-every is a number of rounds, or 0 for only at the end (got {CheckpointEvery}).");
        if (Threads < 1) throw new ArgumentException($"threads must be at least 1 (got {Threads}).");
        if (!(OuterLr >= 0) || !double.IsFinite(OuterLr)) throw new ArgumentException($"the outer learning rate must be a non-negative number (got {OuterLr}).");
        if (InnerBatch < 0) throw new ArgumentException($"--inner-batch must be 0 (all examples) or more (got {InnerBatch}).");
        if (InnerBatch > 0 && Algorithm != "reptile") throw new ArgumentException($"--inner-batch sets Reptile's inner mini-batches; {Algorithm} adapts on the whole support set.");
        if (EvalBatch < 0) throw new ArgumentException($"--eval-batch must be 0 (all support examples) or more (got {EvalBatch}).");
        if (EvalBatch > 0 && Algorithm != "reptile") throw new ArgumentException($"--eval-batch sets Reptile's evaluation mini-batches; {Algorithm} adapts on the whole support set.");
        if (ReptileInner is not ("sgd" or "adam")) throw new ArgumentException($"reptile's inner optimizer is sgd or adam (got '{ReptileInner}').");
        if (ReptileAdamState is not (null or "carried")) throw new ArgumentException($"reptile's inner Adam state is fresh (the default) or carried (got '{ReptileAdamState}').");
        if (ReptileAdamState is not null && (Algorithm != "reptile" || ReptileInner != "adam"))
            throw new ArgumentException($"--reptile-adam-state carried keeps Reptile's inner Adam state between rounds; it needs --algorithm reptile with --reptile-inner adam (got {Algorithm}, inner {ReptileInner}).");
        if (HeadInit is not ("normal" or "zeros")) throw new ArgumentException($"the head initialisation is normal or zeros (got '{HeadInit}').");
        if (Batching is not ("auto" or "loop" or "batched")) throw new ArgumentException($"batching is auto, loop or batched (got '{Batching}').");
        if (Split is not ("maml" or "lake" or "ravi")) throw new ArgumentException($"unknown split '{Split}'; use maml or lake (omniglot) or ravi (mini-imagenet).");
        if (Dataset == "mini-imagenet" && Split != "ravi") throw new ArgumentException($"mini-imagenet has one split, Ravi & Larochelle's train/val/test.csv: use --split ravi or leave --split out (got {Split}).");
        if (Dataset != "mini-imagenet" && Split == "ravi") throw new ArgumentException("--split ravi is mini-imagenet's split (its train/val/test.csv); omniglot's are maml and lake.");
        if (Dataset == "mini-imagenet" && ValidationClasses > 0) throw new ArgumentException("mini-imagenet's validation classes are the 16 of val.csv: leave --validation-classes out.");
        if (SplitCsvDir is not null && Dataset != "mini-imagenet") throw new ArgumentException($"--split-csv names mini-imagenet's split files; {Dataset} has none.");
        if (Filters < 0) throw new ArgumentException($"filters must be positive, or 0 for the model's default (got {Filters}).");
        if (ConvDownsample is not (null or "stride")) throw new ArgumentException($"Conv4 downsamples by pool (the default) or stride (got '{ConvDownsample}').");
        if (ConvDownsample is not null && (Dataset is not ("omniglot" or "folder" or "mini-imagenet") || Algorithm == "mann"))
            throw new ArgumentException($"--conv-downsample shapes Conv4's blocks, but {Algorithm} on {Dataset} has no Conv4: use it with omniglot, folder or mini-imagenet (not mann).");
        if (Model is not ("auto" or "lstm")) throw new ArgumentException($"unknown model '{Model}'; use auto (the dataset's model) or lstm.");
        if (Model == "lstm" && Dataset != "sine-sequence") throw new ArgumentException($"--model lstm reads sequences: use it with --dataset sine-sequence (got {Dataset}).");
        if (Dataset == "sine-sequence" && Hidden.Length != 1) throw new ArgumentException($"the LSTM of sine-sequence has one layer: give --hidden one width (got {string.Join(" ", Hidden)}).");
        if (Dataset == "sine-sequence" && Ways != 1) throw new ArgumentException($"sine-sequence forecasting has no classes: leave --ways at 1 (got {Ways}).");
        if (Dataset == "sinusoid" && Ways != 1) throw new ArgumentException($"sinusoid regression has no classes: leave --ways at 1 (got {Ways}).");
        if (FullContextEmbeddings && Algorithm != "matchingnet") throw new ArgumentException($"full context embeddings (--fce) belong to matchingnet, not {Algorithm}.");
        if (PretrainHead is not ("cosine" or "linear")) throw new ArgumentException($"the pretrain head is cosine (Baseline++) or linear (Baseline) (got '{PretrainHead}').");
        if (PretrainClasses < 0) throw new ArgumentException($"pretrain classes must be 0 (every training class) or more (got {PretrainClasses}).");
        if (IsClassification && Ways < 2) throw new ArgumentException($"classification needs at least 2 ways (got {Ways}).");
        ValidateMamlPlusPlus();
    }

    private void ValidateMamlPlusPlus()
    {
        if (UsesMamlPlusPlusInnerLoop && Algorithm is not ("maml" or "fomaml"))
            throw new ArgumentException($"--multi-step-loss, --per-step-bn, --learned-inner-lr and --derivative-order-annealing (MAML++) are options of maml and fomaml, not {Algorithm}.");
        if (UsesMamlPlusPlusInnerLoop && InnerSteps < 1)
            throw new ArgumentException($"the MAML++ options shape the inner loop: give --inner-steps 1 or more (got {InnerSteps}).");
        if (PerStepBn && Dataset is not ("omniglot" or "folder"))
            throw new ArgumentException($"--per-step-bn gives Conv4's batch norm one set of weights per step; {Dataset}'s model has no batch norm: use it with omniglot or folder.");
        if (MslIterations < 0) throw new ArgumentException($"--msl-iterations must be 0 or more rounds (got {MslIterations}).");
        if (DerivativeOrderAnnealing < 0) throw new ArgumentException($"--derivative-order-annealing must be 0 or more rounds (got {DerivativeOrderAnnealing}).");
        if (DerivativeOrderAnnealing > 0 && (FirstOrder || Algorithm == "fomaml"))
            throw new ArgumentException("--derivative-order-annealing switches from first to second order, but this run is first order throughout (fomaml or --first-order); drop one of them.");
        if (CosineOuterLr && OuterLrFinal is not null)
            throw new ArgumentException("--cosine-outer-lr and --outer-lr-final are two annealings of the outer learning rate; give one (--outer-lr-final none for cosine).");
        if (!(OuterLrMin >= 0) || !double.IsFinite(OuterLrMin)) throw new ArgumentException($"--outer-lr-min must be a non-negative number (got {OuterLrMin}).");
        if (OuterLrHalveEvery < 0) throw new ArgumentException($"--outer-lr-halve-every must be 0 (off) or a number of rounds (got {OuterLrHalveEvery}).");
        if (OuterLrHalveEvery > 0 && (CosineOuterLr || OuterLrFinal is not null))
            throw new ArgumentException("--outer-lr-halve-every is a schedule of its own: drop --cosine-outer-lr, and give --outer-lr-final none.");
    }

    /// <summary>
    /// All MAML++ options with the paper's settings, from the reference code's Omniglot 5-way 1-shot config
    /// (github.com/AntreasAntoniou/HowToTrainYourMAMLPytorch, experiment_config/omniglot_maml++_5_way_1_shot_*.json):
    /// 5 inner steps in training and evaluation, meta-batch 16, 1 query per class, Adam at 0.001 cosine-annealed to
    /// 1e-5 over 150 epochs × 500 iterations, first order until epoch 80 (its test is epoch &gt; 80: 81 × 500 rounds),
    /// and MSL annealed over the parser's default 15 epochs. Per-step batch norm only where the model has batch norm.
    /// </summary>
    public TrainingConfig WithMamlPlusPlus() => this with
    {
        MultiStepLoss = true,
        MslIterations = 15 * 500,
        PerStepBn = Dataset is "omniglot" or "folder",
        LearnedInnerLr = true,
        DerivativeOrderAnnealing = Algorithm == "fomaml" || FirstOrder ? 0 : 81 * 500,
        CosineOuterLr = true,
        OuterLrMin = 1e-5,
        OuterLrFinal = null,
        OuterOptimizer = "adam",
        OuterLr = 0.001,
        InnerSteps = 5,
        EvalSteps = 5,
        MetaBatch = IsClassification ? 16 : MetaBatch,
        Queries = IsClassification ? 1 : Queries,
        Iterations = IsClassification ? 150 * 500 : Iterations,
    };

    /// <summary>Outer learning rate for a round: constant, halved every N rounds, cosine, or linear from OuterLr to OuterLrFinal over the run.</summary>
    public double OuterLearningRate(long round)
    {
        if (OuterLrHalveEvery > 0) return Math.ScaleB(OuterLr, -(int)Math.Min(1000, round / OuterLrHalveEvery));
        // Cosine annealing (SGDR without restarts, as torch's CosineAnnealingLR): min + (max − min)(1 + cos(π t/T))/2.
        if (CosineOuterLr && Iterations > 0)
            return OuterLrMin + (OuterLr - OuterLrMin) * (1 + Math.Cos(Math.PI * Math.Min(1.0, (double)round / Iterations))) / 2;
        if (OuterLrFinal is not { } final || Iterations == 0) return OuterLr;
        double fractionDone = Math.Min(1.0, (double)round / Iterations);
        return fractionDone * final + (1 - fractionDone) * OuterLr;
    }
}
