using System.CommandLine;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Options;

/// <summary>
/// The options that define a run, shared by <c>train</c> and <c>bench</c>. Every one is optional: a value given on
/// the command line overrides <see cref="TrainingConfig.ForDataset"/>'s published defaults, nothing else does.
/// </summary>
public sealed class RunOptions : ConfigOptions<TrainingConfig>
{
    /// <summary>Options a resumed run may change: they do not alter the math of the rounds already taken.</summary>
    public static readonly string[] ChangeableOnResume = ["--iterations", "--threads", "--data", "--eval-steps", "--eval-batch", "--split-csv"];

    public RunOptions() : base(ChangeableOnResume, "in another --checkpoint-dir")
    {
        // Bound first: a binding applies in the order bound, so explicit options given with --maml++ override its defaults.
        MamlPlusPlus = Bind(Flag("--maml++", "all MAML++ options with the paper's settings (Antoniou et al. 2019; docs/algorithms.md): --multi-step-loss, --per-step-bn (Conv4), --learned-inner-lr, --derivative-order-annealing, --cosine-outer-lr, 5 inner steps, meta-batch 16"),
            (c, _) => c.WithMamlPlusPlus(), c => new { c.MultiStepLoss, c.MslIterations, c.PerStepBn, c.LearnedInnerLr, c.DerivativeOrderAnnealing, c.CosineOuterLr, c.OuterLrMin });
        Dataset = Bind(Choice("--dataset", "the episode source (default sinusoid)", "sinusoid", "omniglot", "folder",
            "sine-sequence", "mini-imagenet"),
            (c, v) => c with { Dataset = v! }, c => c.Dataset);
        Algorithm = Bind(Choice("--algorithm", "the meta-learning algorithm (default maml)", "maml", "fomaml", "reptile", "metasgd", "anil", "protonet",
            "matchingnet", "metanet", "pretrain", "mann", "lstm-meta"),
            (c, v) => c with { Algorithm = v! }, c => c.Algorithm);
        Bind(Flag("--first-order", "drop second-order terms (implied by fomaml; optional for metasgd and anil)"),
            (c, _) => c with { FirstOrder = true }, c => c.FirstOrder);
        Bind(Number<int>("--ways", "N", "classes per episode (1 for sinusoid)"), (c, v) => c with { Ways = v!.Value }, c => c.Ways);
        Shots = Bind(Number<int>("--shots", "K", "support examples per class (support points for sinusoid)"), (c, v) => c with { Shots = v!.Value }, c => c.Shots);
        Bind(Number<int>("--queries", "Q", "query examples per class (query points for sinusoid)"), (c, v) => c with { Queries = v!.Value }, c => c.Queries);
        MetaBatch = Bind(Number<int>("--meta-batch", "B", "episodes per meta-iteration"), (c, v) => c with { MetaBatch = v!.Value }, c => c.MetaBatch);
        Bind(Number<int>("--inner-steps", "S", "inner-loop steps during training"), (c, v) => c with { InnerSteps = v!.Value }, c => c.InnerSteps);
        Bind(Number<double>("--inner-lr", "LR", "inner-loop learning rate"), (c, v) => c with { InnerLr = v!.Value }, c => c.InnerLr);
        Bind(Number<double>("--outer-lr", "LR", "outer (meta) learning rate; Reptile's step size epsilon"), (c, v) => c with { OuterLr = v!.Value }, c => c.OuterLr);
        Bind(OuterLrFinalOption(), (c, v) => c with { OuterLrFinal = ParseOuterLrFinal(v!) }, c => c.OuterLrFinal);
        Bind(Choice("--outer-optimizer", "the outer optimizer", "adam", "sgd"), (c, v) => c with { OuterOptimizer = v! }, c => c.OuterOptimizer);
        Bind(Choice("--reptile-inner", "Reptile's inner optimizer", "sgd", "adam"), (c, v) => c with { ReptileInner = v! }, c => c.ReptileInner);
        Bind(Number<int>("--inner-batch", "N", "Reptile: examples per inner step, dealt in turn from a shuffle of the task's support and query examples (the reference's --inner-batch; default 0: all of them)"),
            (c, v) => c with { InnerBatch = v!.Value }, c => c.InnerBatch);
        Bind(Number<int>("--eval-batch", "N", "Reptile: support examples per evaluation step, dealt in turn from a shuffle of the support set (the reference's --eval-batch: 5 for 5-way 5-shot, 10 for 20-way; default 0: all of them)"),
            (c, v) => c with { EvalBatch = v!.Value }, c => c.EvalBatch);
        Bind(Choice("--reptile-adam-state", "Reptile with --reptile-inner adam: fresh (a new Adam per task, default) or carried (its second moment and step count carried from round to round beside θ, as the reference code's one Adam)", "fresh", "carried"),
            (c, v) => c with { ReptileAdamState = v == "carried" ? "carried" : null }, c => c.ReptileAdamState ?? "fresh");
        Iterations = Bind(Number<int>("--iterations", "N", "meta-iterations (rounds) to run in total"), (c, v) => c with { Iterations = v!.Value }, c => c.Iterations);
        Bind(Number<ulong>("--seed", "SEED", "run seed: initial θ and the training episodes"), (c, v) => c with { Seed = v!.Value }, c => c.Seed);
        Threads = Bind(Number<int>("--threads", "N", "libtorch intra-op threads (process-wide; default 1)"), (c, v) => c with { Threads = v!.Value }, c => c.Threads);
        Bind(new Option<string>("--data") { Description = "folder holding the dataset (Omniglot: images_background.zip and images_evaluation.zip; mini-imagenet: images/ and train/val/test.csv)", HelpName = "DIR" },
            (c, v) => c with { DataDir = v }, c => c.DataDir);
        Bind(Choice("--split", "Omniglot split: maml (1,200/423 pooled characters) or lake (background/evaluation); mini-imagenet: ravi (its CSVs)", "maml", "lake", "ravi"),
            (c, v) => c with { Split = v! }, c => c.Split);
        Bind(new Option<string>("--split-csv") { Description = "mini-imagenet: folder holding train.csv, val.csv and test.csv (default: the --data folder)", HelpName = "DIR" },
            (c, v) => c with { SplitCsvDir = v }, c => c.SplitCsvDir);
        Bind(Number<int>("--filters", "F", "Conv4 filters per layer (default 64; 32 for MAML on mini-imagenet, as Finn et al.)"),
            (c, v) => c with { Filters = v!.Value }, c => c.Filters);
        Bind(Choice("--conv-downsample", "how Conv4's blocks halve the map: pool (2×2 max-pool, default) or stride (stride-2 convolutions, last map averaged: MAML's and Reptile's Omniglot network, about 2.7× less CPU a round)", "pool", "stride"),
            (c, v) => c with { ConvDownsample = v == "stride" ? "stride" : null }, c => c.ConvDownsample ?? "pool");
        Rotate = Bind(Flag("--rotate", "add 90/180/270-degree rotations as new classes (default for omniglot)"), (c, _) => c with { Rotate = true }, c => c.Rotate);
        NoRotate = Bind(Flag("--no-rotate", "no rotated classes"), (c, _) => c with { Rotate = false }, c => c.Rotate);
        Bind(Number<int>("--validation-classes", "N", "training classes held out for validation"), (c, v) => c with { ValidationClasses = v!.Value }, c => c.ValidationClasses);
        Bind(HiddenOption(), (c, v) => c with { Hidden = v! }, c => c.Hidden);
        Bind(Number<int>("--eval-steps", "S", "inner steps when evaluating"), (c, v) => c with { EvalSteps = v!.Value }, c => c.EvalSteps);
        Bind(Choice("--head-init", "classifier head initialisation: normal (MAML reference code, default) or zeros", "normal", "zeros"),
            (c, v) => c with { HeadInit = v! }, c => c.HeadInit);
        Batching = Bind(Choice("--batching", "run a worker's episodes task-batched or one by one (auto: whichever measured faster for the model: batched for MLPs, one by one for Conv4 on CPU)", "auto", "loop", "batched"),
            (c, v) => c with { Batching = v! }, c => c.Batching);
        Bind(Flag("--fce", "matchingnet: full context embeddings (bidirectional LSTM over the support set, attention LSTM for each query)"),
            (c, _) => c with { FullContextEmbeddings = true }, c => c.FullContextEmbeddings);
        Bind(Choice("--pretrain-head", "pretrain's classifier: cosine (Baseline++, default) or linear (Baseline)", "cosine", "linear"),
            (c, v) => c with { PretrainHead = v! }, c => c.PretrainHead);
        Bind(Choice("--model", "the model: auto (the dataset's: MLP, Conv4; lstm for sine-sequence) or lstm (a functional LSTM over sequences)", "auto", "lstm"),
            (c, v) => c with { Model = v! }, c => c.Model);
        NoPreMetrics = Bind(Flag("--no-pre-metrics", "skip scoring θ on each query set before adaptation (saves one query forward pass per episode)"),
            (c, _) => c with { PreAdaptationMetrics = false }, c => c.PreAdaptationMetrics);
        Bind(Flag("--multi-step-loss", "MAML++ MSL: the query loss after every inner step, weights annealed to the last step over --msl-iterations"),
            (c, _) => c with { MultiStepLoss = true }, c => c.MultiStepLoss);
        Bind(Number<int>("--msl-iterations", "N", "rounds over which the multi-step loss anneals to the last step (default 7500: the reference's 15 epochs of 500)"),
            (c, v) => c with { MslIterations = v!.Value }, c => c.MslIterations);
        Bind(Flag("--per-step-bn", "MAML++ BNWB: one batch-norm weight and bias per inner step (Conv4), batch statistics per step"),
            (c, _) => c with { PerStepBn = true }, c => c.PerStepBn);
        Bind(Flag("--learned-inner-lr", "MAML++ LSLR: a learned inner learning rate per parameter tensor per step, starting at --inner-lr"),
            (c, _) => c with { LearnedInnerLr = true }, c => c.LearnedInnerLr);
        Bind(Number<int>("--derivative-order-annealing", "N", "MAML++ DA: first order for the first N rounds, second order after"),
            (c, v) => c with { DerivativeOrderAnnealing = v!.Value }, c => c.DerivativeOrderAnnealing);
        Bind(Flag("--cosine-outer-lr", "MAML++ CA: cosine annealing of the outer learning rate from --outer-lr to --outer-lr-min over the run"),
            (c, _) => c with { CosineOuterLr = true, OuterLrFinal = null }, c => c.CosineOuterLr);
        Bind(Number<int>("--outer-lr-halve-every", "N", "step decay: halve the outer learning rate every N rounds (prototypical networks: 2000); needs --outer-lr-final none"),
            (c, v) => c with { OuterLrHalveEvery = v!.Value }, c => c.OuterLrHalveEvery);
        Bind(Number<double>("--outer-lr-min", "LR", "the outer learning rate that --cosine-outer-lr reaches at the last round (default 1e-5)"),
            (c, v) => c with { OuterLrMin = v!.Value }, c => c.OuterLrMin);
    }

    public Option<string> Dataset { get; }
    public Option<string> Algorithm { get; }
    public Option<int?> Iterations { get; }
    public Option<int?> Shots { get; }
    public Option<int?> MetaBatch { get; }
    public Option<int?> Threads { get; }
    public Option<bool> Rotate { get; }
    public Option<bool> NoRotate { get; }
    public Option<bool> NoPreMetrics { get; }
    public Option<string> Batching { get; }
    public Option<bool> MamlPlusPlus { get; }

    public void AddTo(Command command)
    {
        AddBoundOptions(command);
        command.Validators.Add(result =>
        {
            if (result.GetResult(Rotate) is not null && result.GetResult(NoRotate) is not null)
                result.AddError("--rotate and --no-rotate contradict each other; give one.");
        });
    }

    /// <summary>The published defaults for the chosen dataset and algorithm, overridden by the options given.</summary>
    public TrainingConfig ToConfig(ParseResult result) =>
        Apply(result, TrainingConfig.ForDataset(result.GetValue(Dataset) ?? "sinusoid", result.GetValue(Algorithm) ?? "maml", result.GetValue(Shots)));

    private static Option<string> OuterLrFinalOption()
    {
        var option = new Option<string>("--outer-lr-final")
        {
            Description = "outer learning rate reached linearly at the last iteration (Reptile's annealing), or 'none' for a constant rate",
            HelpName = "LR|none",
        };
        option.Validators.Add(result =>
        {
            try { ParseOuterLrFinal(result.GetValueOrDefault<string>() ?? ""); }
            catch (ArgumentException e) { result.AddError(e.Message); }
        });
        return option;
    }

    private static double? ParseOuterLrFinal(string text) =>
        text.Trim().ToLowerInvariant() is "none" or "constant" ? null
        : double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) && value >= 0 ? value
        : throw new ArgumentException($"--outer-lr-final takes a non-negative number or 'none' (got '{text}').");

    private static Option<int[]> HiddenOption() => new("--hidden")
    {
        Description = "hidden layer widths of the MLP, comma-separated (default 40,40)",
        HelpName = "W,W",
        CustomParser = result =>
        {
            string text = string.Join(',', result.Tokens.Select(t => t.Value));
            var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var widths = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!int.TryParse(parts[i], out widths[i]) || widths[i] < 1)
                {
                    result.AddError($"--hidden takes positive layer widths separated by commas, e.g. 40,40 (got '{text}').");
                    return [];
                }
            }
            if (widths.Length == 0) result.AddError("--hidden needs at least one layer width, e.g. 40,40.");
            return widths;
        },
    };
}
