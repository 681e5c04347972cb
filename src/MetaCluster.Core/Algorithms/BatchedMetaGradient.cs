using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Algorithms;

/// <summary>
/// The task-batched counterparts of <see cref="MetaAlgorithm"/>'s MAML-family helpers: the same passes, in the same
/// order and with the same batch-norm grouping, over per-task leaves [T, …] so each task's numbers match its
/// one-at-a-time computation.
/// </summary>
internal static class BatchedMetaGradient
{
    /// <summary>The summed support loss over tasks as a function of stacked model parameters (the inner loop's objective).</summary>
    public static Func<IReadOnlyList<Tensor>, Tensor> SupportLoss(IBatchedModel model, TaskBatch batch) =>
        p => batch.PerTaskLoss(model.ForwardBatched(batch.SupportX, p), batch.SupportY).sum();

    /// <summary>
    /// As <c>ScoreBeforeAndSupportLoss</c>: without batch statistics, support and query go through θ in one pass (the
    /// support half starts the inner loop); with batch norm the sets must be normalised apart, so the query is scored
    /// alone and the support loss is left to the inner loop.
    /// </summary>
    public static (TaskScores? Before, Tensor? SupportLoss) BeforeAndSupportLoss(IBatchedModel model, IReadOnlyList<Tensor> modelLeaves,
        TaskBatch batch, bool measureBefore)
    {
        if (!measureBefore) return (null, null);
        if (model.UsesBatchStatistics) return (ScoreQuery(model, modelLeaves, batch), null);
        long shots = batch.SupportX.shape[1];
        var both = model.ForwardBatched(cat([batch.SupportX, batch.QueryX], 1), modelLeaves);
        var supportLoss = batch.PerTaskLoss(both.narrow(1, 0, shots), batch.SupportY).sum();
        TaskScores before;
        using (no_grad())
        {
            var query = both.narrow(1, shots, both.shape[1] - shots);
            before = batch.Score(query, batch.PerTaskLoss(query, batch.QueryY), batch.QueryY);
        }
        return (before, supportLoss);
    }

    /// <summary>Query metrics of stacked model parameters, no graph kept (transductive batch norm per task, as the loop path).</summary>
    public static TaskScores ScoreQuery(IBatchedModel model, IReadOnlyList<Tensor> modelParameters, TaskBatch batch)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var output = model.ForwardBatched(batch.QueryX, modelParameters);
        return batch.Score(output, batch.PerTaskLoss(output, batch.QueryY), batch.QueryY);
    }

    /// <summary>
    /// As <c>QueryMetaGradient</c>: the summed query loss under the adapted parameters, differentiated with respect to
    /// every per-task leaf; slice t of each gradient is task t's contribution.
    /// </summary>
    public static (IReadOnlyList<Tensor> Contributions, EpisodeMetrics[] Metrics) QueryMetaGradient(IBatchedModel model,
        IReadOnlyList<Tensor> leaves, IReadOnlyList<Tensor> adapted, TaskBatch batch, TaskScores? before, bool allowUnused = false)
    {
        var output = model.ForwardBatched(batch.QueryX, adapted);
        var loss = batch.PerTaskLoss(output, batch.QueryY);
        var after = batch.Score(output, loss, batch.QueryY);
        var gradient = autograd.grad([loss.sum()], leaves.ToArray(), allow_unused: allowUnused);
        // An unused input (Meta-SGD's rates with zero inner steps) has no gradient: its contribution is zero.
        var contributions = gradient.Select((g, i) => g is null || g.IsInvalid ? zeros_like(leaves[i]) : g).ToArray();
        return (contributions, TaskScores.Metrics(before, after));
    }
}
