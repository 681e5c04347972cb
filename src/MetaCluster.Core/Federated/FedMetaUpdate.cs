using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Federated;

/// <summary>
/// FedMeta (Chen et al. 2018) with MAML, FOMAML or Meta-SGD: the client returns the meta-gradient of its local
/// meta-batch — the exact mean of the meta-algorithm's per-episode contributions, the same numbers the centralised
/// trainer would sum for those episodes — and the server takes the outer step on the weighted mean.
/// </summary>
public sealed class FedMetaUpdate(FederatedConfig config, IFunctionalModel model, MetaAlgorithm algorithm)
    : FederatedAlgorithm(config, model, algorithm)
{
    public override ContributionKind Kind => ContributionKind.Gradient;

    public override LocalResult Compute(ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample) =>
        MeanOfContributions(Personalizer, theta, episodes, sample);
}
