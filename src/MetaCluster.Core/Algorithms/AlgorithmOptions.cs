namespace MetaCluster.Core.Algorithms;

public enum InnerOptimizerKind
{
    Sgd,
    Adam,
}

/// <summary>
/// Inner-loop settings shared by the algorithms. <see cref="FirstOrder"/> drops the second-order terms (FOMAML,
/// first-order Meta-SGD/ANIL). Reptile's inner optimizer may be SGD or Adam (β1 = 0 as in Nichol et al. 2018).
/// </summary>
public sealed record AlgorithmOptions
{
    public int InnerSteps { get; init; } = 1;
    public double InnerLearningRate { get; init; } = 0.01;
    public bool FirstOrder { get; init; }
    public InnerOptimizerKind ReptileInnerOptimizer { get; init; } = InnerOptimizerKind.Sgd;

    /// <summary>Reptile adapts on support ∪ query, as the reference code and the plain-PyTorch peer do.</summary>
    public bool ReptileTrainOnQuery { get; init; } = true;

    /// <summary>
    /// Reptile: examples in each inner step's mini-batch, 0 for all of them (full batch). The reference code's
    /// --inner-batch: the task's examples are shuffled and dealt out in turn, reshuffled when they run out.
    /// </summary>
    public int ReptileInnerBatch { get; init; }

    /// <summary>Reptile: support examples in each evaluation step's mini-batch, 0 for all of them (the reference code's --eval-batch).</summary>
    public int ReptileEvalBatch { get; init; }

    /// <summary>
    /// Reptile with the Adam inner optimizer: carry Adam's second moment (its root) and step count from round to round
    /// as state beside θ, as the reference code's one long-lived optimizer does, instead of a fresh Adam per task (whose
    /// first step moves every weight by about ±lr). See <see cref="Reptile"/>.
    /// </summary>
    public bool ReptileCarriesAdamState { get; init; }

    /// <summary>Seeds Reptile's per-episode shuffles (with the episode's index), so they are the run's and not the worker's.</summary>
    public ulong ShuffleSeed { get; init; }

    /// <summary>
    /// Score θ on the query set before adapting (the "before" metrics). With batch norm this is one more forward pass
    /// over the query set — about a fifth of a Conv4 MAML episode — so benchmarks that mirror a peer which does not
    /// measure it can turn it off.
    /// </summary>
    public bool MeasureBeforeAdaptation { get; init; } = true;

    /// <summary>Whether a worker runs its episodes one by one or as one task-batched computation.</summary>
    public BatchingMode Batching { get; init; } = BatchingMode.Auto;

    /// <summary>
    /// Where episodes and θ's tensors live while contributions are computed. The process's setting (a worker's
    /// --device), not the run's: contributions come back to the CPU as float32 either way.
    /// </summary>
    public Runtime.ComputeDevice Device { get; init; } = Runtime.ComputeDevice.Cpu;

    public void Validate()
    {
        if (InnerSteps < 0) throw new ArgumentException($"inner steps must be 0 or more (got {InnerSteps}).");
        if (!(InnerLearningRate > 0) || !double.IsFinite(InnerLearningRate))
            throw new ArgumentException($"the inner learning rate must be a positive number (got {InnerLearningRate}).");
        if (ReptileInnerBatch < 0) throw new ArgumentException($"the inner batch must be 0 (all examples) or more (got {ReptileInnerBatch}).");
        if (ReptileEvalBatch < 0) throw new ArgumentException($"the evaluation batch must be 0 (all support examples) or more (got {ReptileEvalBatch}).");
        if (ReptileCarriesAdamState && ReptileInnerOptimizer != InnerOptimizerKind.Adam)
            throw new ArgumentException("carried inner Adam state needs Reptile's inner optimizer to be Adam.");
    }
}
