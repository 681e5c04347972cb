using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Training;

/// <summary>
/// What a config resolves to before any data is read: model, algorithm and episode spec. Enough to run the outer
/// loop — θ's layout, its initial value, the optimizer — so a coordinator never loads a dataset; the data-bearing
/// <see cref="TrainingRun"/> adds the episode sources for whoever computes contributions.
/// </summary>
public sealed record RunBlueprint(TrainingConfig Config, IFunctionalModel Model, MetaAlgorithm Algorithm, EpisodeSpec Spec)
{
    public ParameterLayout Layout => Algorithm.Layout;

    public IOuterOptimizer CreateOptimizer() => OuterOptimizers.Create(Config.OuterOptimizer, Algorithm.OptimizedCount);

    public ParameterSet InitialParameters() => Algorithm.Initialize(DeterministicRandom.DeriveSeed(Config.Seed, 0));

    /// <summary>What episodes of this config are, known from the dataset name alone.</summary>
    public TaskKind TaskKind => Config.IsClassification ? TaskKind.Classification : TaskKind.Regression;
}
