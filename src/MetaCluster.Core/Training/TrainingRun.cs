using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>
/// The pieces a config resolves to: model, algorithm, episode spec (its <see cref="Blueprint"/>) and the
/// train/validation/test sources. Built once per process (the Omniglot pixels stay in memory) and shared by trainer,
/// evaluator and benchmarks.
/// </summary>
public sealed record TrainingRun(
    TrainingConfig Config, IFunctionalModel Model, MetaAlgorithm Algorithm, EpisodeSpec Spec,
    IEpisodeSource Train, IEpisodeSource? Validation, IEpisodeSource Test)
{
    /// <summary>One line about the data, e.g. the Omniglot split sizes and whether the decoded cache was hit.</summary>
    public string DataDescription { get; init; } = Train.Name;

    public EpisodeStream TrainingStream() => new(Train, Spec, Config.Seed, EpisodeStream.Training);

    /// <summary>Evaluation episodes come from the test split with their own seed, fixed across runs by default.</summary>
    public EpisodeStream EvaluationStream(ulong seed, EpisodeSpec? spec = null) => new(Test, spec ?? Spec, seed, EpisodeStream.Evaluation);

    /// <summary>The run without its data (computed, so a <c>with</c> copy never carries a stale one).</summary>
    public RunBlueprint Blueprint => new(Config, Model, Algorithm, Spec);

    public IOuterOptimizer CreateOptimizer() => Blueprint.CreateOptimizer();

    public ParameterSet InitialParameters() => Blueprint.InitialParameters();

    /// <summary>The config's algorithm over <paramref name="model"/>, computing on <paramref name="device"/> (the CPU when null).</summary>
    public static MetaAlgorithm CreateAlgorithm(TrainingConfig config, IFunctionalModel model, Runtime.ComputeDevice? device = null)
    {
        var options = new AlgorithmOptions
        {
            InnerSteps = config.InnerSteps,
            InnerLearningRate = config.InnerLr,
            FirstOrder = config.FirstOrder || config.Algorithm == "fomaml",
            ReptileInnerOptimizer = config.ReptileInner == "adam" ? InnerOptimizerKind.Adam : InnerOptimizerKind.Sgd,
            ReptileInnerBatch = config.InnerBatch,
            ReptileEvalBatch = config.EvalBatch,
            ReptileCarriesAdamState = config.ReptileAdamState == "carried",
            ShuffleSeed = config.Seed,
            MeasureBeforeAdaptation = config.PreAdaptationMetrics,
            Batching = config.Batching switch { "loop" => BatchingMode.Loop, "batched" => BatchingMode.Batched, _ => BatchingMode.Auto },
            Device = device ?? Runtime.ComputeDevice.Cpu,
        };
        return config.Algorithm switch
        {
            "maml" or "fomaml" when config.UsesMamlPlusPlusInnerLoop => new MamlPlusPlus(model, options, new MamlPlusPlusOptions
            {
                MultiStepLoss = config.MultiStepLoss,
                MultiStepLossIterations = config.MslIterations,
                PerStepBatchNorm = config.PerStepBn,
                LearnedInnerRates = config.LearnedInnerLr,
                FirstOrderIterations = config.DerivativeOrderAnnealing,
                MetaBatch = config.MetaBatch,
            }),
            "maml" or "fomaml" => new Maml(model, options),
            "reptile" => new Reptile(model, options),
            "metasgd" => new MetaSgd(model, options),
            "anil" => new Anil(model, options),
            "protonet" => new ProtoNet(model, options),
            "matchingnet" => new MatchingNet(model, options, config.FullContextEmbeddings),
            "metanet" => new MetaNet(model, options),
            "pretrain" => new Pretrain(model, options, config.PretrainClasses, cosine: config.PretrainHead == "cosine"),
            "mann" => new Mann((MannNetwork)model, options),
            "lstm-meta" => new LstmMetaLearner(model, options),
            _ => throw new ArgumentException($"unknown algorithm '{config.Algorithm}'."),
        };
    }
}
