using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Federated;

/// <summary>
/// FedAvg's client (McMahan et al. 2017), also FedAdam's (Reddi et al. 2021): starting from θ, <c>LocalSteps</c> SGD
/// steps at <c>LocalLr</c> on each local episode's examples (support ∪ query) in turn; the update is the delta
/// w − θ. The server moves θ along the weighted mean delta (SGD at the server rate, or Adam).
/// </summary>
public sealed class LocalSgdUpdate(FederatedConfig config, IFunctionalModel model, MetaAlgorithm personalizer)
    : FederatedAlgorithm(config, model, personalizer)
{
    public override ContributionKind Kind => ContributionKind.Delta;

    public override LocalResult Compute(ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample) =>
        Trajectory(theta, episodes, sample, Config.LocalSteps, Step);

    private IReadOnlyList<Tensor> Step(IReadOnlyList<Tensor> w, Episode episode)
    {
        var x = cat([episode.SupportX, episode.QueryX], 0);
        var y = cat([episode.SupportY, episode.QueryY], 0);
        var loss = TaskLoss.Loss(Model.Forward(x, w), y, episode.Kind);
        var grads = autograd.grad([loss], w.ToArray());
        using var _ = no_grad();
        return w.Select((p, i) => p.add(grads[i], alpha: -Config.LocalLr).requires_grad_()).ToArray();
    }
}
