using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Federated;

/// <summary>
/// Per-FedAvg (Fallah et al. 2020): the client takes <c>LocalSteps</c> steps per local episode of
/// w ← w − β·d(w), with d the gradient of the one-step-adapted loss f(w − α∇f(w, D), D′):
/// first order (perfedavg) d = ∇f(w̃, D′); Hessian-free (perfedavg-hf) d = (I − α∇²f(w, D″))∇f(w̃, D′), the
/// Hessian-vector product by double backward. D is the episode's support set, D′ its query set, and D″ = D (the paper
/// draws a third batch; with D″ = D the HF direction is exactly the one-step MAML gradient, which the tests check
/// against finite differences). α = InnerLr, β = LocalLr; the update is the delta w − θ, averaged by the server.
/// </summary>
public sealed class PerFedAvgUpdate(FederatedConfig config, IFunctionalModel model, MetaAlgorithm personalizer)
    : FederatedAlgorithm(config, model, personalizer)
{
    public bool HessianFree => Config.Algorithm == "perfedavg-hf";

    public override ContributionKind Kind => ContributionKind.Delta;

    public override LocalResult Compute(ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample) =>
        Trajectory(theta, episodes, sample, Config.LocalSteps, (w, episode) =>
        {
            var d = Direction(Model, w, episode, Config.InnerLr, HessianFree);
            using var _ = no_grad();
            return w.Select((p, i) => p.add(d[i], alpha: -Config.LocalLr).requires_grad_()).ToArray();
        });

    /// <summary>
    /// Per-FedAvg's step direction at <paramref name="w"/> (leaves that require grad, any floating dtype).
    /// </summary>
    public static Tensor[] Direction(IFunctionalModel model, IReadOnlyList<Tensor> w, Episode episode, double alpha, bool hessianFree)
    {
        var leaves = w.ToArray();
        var supportLoss = TaskLoss.Loss(model.Forward(episode.SupportX, leaves), episode.SupportY, episode.Kind);
        // The support gradient keeps its graph for the Hessian-vector product.
        var g1 = autograd.grad([supportLoss], leaves, create_graph: hessianFree, retain_graph: hessianFree);
        Tensor[] adapted;
        using (no_grad()) adapted = leaves.Select((p, i) => p.add(g1[i], alpha: -alpha).detach().requires_grad_()).ToArray();
        var queryLoss = TaskLoss.Loss(model.Forward(episode.QueryX, adapted), episode.QueryY, episode.Kind);
        var g2 = autograd.grad([queryLoss], adapted).Select(g => g.detach()).ToArray();
        if (!hessianFree) return g2;
        // ∇²f(w, D)·v = ∂/∂w (∇f(w, D) · v) with v = g2 held constant.
        var dot = g1.Select((g, i) => (g * g2[i]).sum()).Aggregate((a, b) => a + b);
        var hvp = autograd.grad([dot], leaves);
        using (no_grad()) return g2.Select((g, i) => g.add(hvp[i], alpha: -alpha)).ToArray();
    }
}
