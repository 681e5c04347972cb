using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Federated;

/// <summary>
/// FedReptile: each local episode is a Reptile task (Nichol et al. 2018) — <c>LocalSteps</c> SGD steps at
/// <c>LocalLr</c> from θ on its examples — and the client returns the exact mean of the episodes' deltas θ' − θ
/// (the existing Reptile contributions). Unlike FedAvg the episodes do not chain: each starts from θ.
/// </summary>
public sealed class FedReptileUpdate(FederatedConfig config, IFunctionalModel model, MetaAlgorithm personalizer)
    : FederatedAlgorithm(config, model, personalizer)
{
    private readonly Reptile _reptile = new(model, new AlgorithmOptions { InnerSteps = config.LocalSteps, InnerLearningRate = config.LocalLr });

    public override ContributionKind Kind => ContributionKind.Delta;

    public override LocalResult Compute(ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample) =>
        MeanOfContributions(_reptile, theta, episodes, sample);
}
