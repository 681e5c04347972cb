namespace MetaCluster.Core.Algorithms;

/// <summary>
/// The MAML++ options (Antoniou et al. 2019, "How to train your MAML") that change the per-episode math; the outer
/// learning rate's cosine annealing lives in <see cref="Training.TrainingConfig.OuterLearningRate"/>. Every schedule
/// is a pure function of the round index, so any worker computing any episode of a round takes the same decisions.
/// </summary>
public sealed record MamlPlusPlusOptions
{
    /// <summary>MSL: the query loss after every inner step, weighted by <see cref="StepWeights"/>.</summary>
    public bool MultiStepLoss { get; init; }

    /// <summary>Rounds over which the MSL weights anneal from uniform to (almost) all on the last step; after them only the last step's loss counts.</summary>
    public long MultiStepLossIterations { get; init; } = 7_500;

    /// <summary>BNWB: one batch-norm (γ, β) per inner step, meta-learned and not adapted in the inner loop.</summary>
    public bool PerStepBatchNorm { get; init; }

    /// <summary>LSLR: one learned inner learning rate per parameter tensor per step.</summary>
    public bool LearnedInnerRates { get; init; }

    /// <summary>DA: rounds computed first-order before switching to second order (0 = second order from the start).</summary>
    public long FirstOrderIterations { get; init; }

    /// <summary>
    /// Episodes per round: an episode's round is its index divided by this (<c>EpisodeStream.RoundEpisodes</c>), which
    /// is how a worker handed only episode indices knows where the schedules stand.
    /// </summary>
    public int MetaBatch { get; init; } = 1;

    public bool ChangesTheInnerLoop => MultiStepLoss || PerStepBatchNorm || LearnedInnerRates || FirstOrderIterations > 0;

    public void Validate(int innerSteps)
    {
        if (MultiStepLossIterations < 0) throw new ArgumentException($"--msl-iterations must be 0 or more (got {MultiStepLossIterations}).");
        if (FirstOrderIterations < 0) throw new ArgumentException($"--derivative-order-annealing must be 0 or more rounds (got {FirstOrderIterations}).");
        if (MetaBatch < 1) throw new ArgumentException($"the meta-batch must be at least 1 (got {MetaBatch}).");
        if (ChangesTheInnerLoop && innerSteps < 1)
            throw new ArgumentException($"the MAML++ options shape the inner loop: give --inner-steps 1 or more (got {innerSteps}).");
    }

    /// <summary>
    /// The weight of each step's query loss at <paramref name="round"/>, as the reference code's
    /// get_per_step_loss_importance_vector: with S steps and f = round / <paramref name="annealIterations"/>, every
    /// step but the last weighs max(1/S − f/S, 0.03/S) and the last min(1/S + f(S−1)/S, 1 − (S−1)·0.03/S); from
    /// f = 1 on, only the last step counts (weight 1). The reference moves f once per 500-iteration epoch (f = epoch /
    /// multi_step_loss_num_epochs); here it moves every round along the same line, equal at each epoch boundary.
    /// </summary>
    public static double[] StepWeights(int steps, long round, long annealIterations)
    {
        if (steps < 1) throw new ArgumentException($"step weights need at least one step (got {steps}).");
        var weights = new double[steps];
        if (round >= annealIterations)
        {
            weights[^1] = 1;
            return weights;
        }
        double f = (double)round / annealIterations, floor = 0.03 / steps;
        for (int i = 0; i < steps - 1; i++) weights[i] = Math.Max(1.0 / steps - f / steps, floor);
        weights[^1] = Math.Min(1.0 / steps + f * (steps - 1) / steps, 1 - (steps - 1) * floor);
        return weights;
    }

    /// <summary>Whether <paramref name="round"/> differentiates through the inner loop (derivative-order annealing).</summary>
    public bool SecondOrderAt(long round, bool firstOrder) => !firstOrder && round >= FirstOrderIterations;
}
