using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Algorithms;

/// <summary>How a worker runs the episodes it holds.</summary>
public enum BatchingMode
{
    /// <summary>Batched where the model and algorithm support it and the model measured faster batched (<see cref="IBatchedModel.AutoBatches"/>), else one at a time.</summary>
    Auto,
    /// <summary>One episode at a time (each with its own graph).</summary>
    Loop,
    /// <summary>All episodes as one computation; an error where unsupported.</summary>
    Batched,
}

/// <summary>
/// T episodes stacked along a leading task dimension: support [T, n, …inputs], query [T, q, …inputs], targets
/// [T, n, …] (regression values or class labels). Built only from episodes of one kind and identical shapes.
/// </summary>
public sealed class TaskBatch
{
    public TaskBatch(IReadOnlyList<Episode> episodes)
    {
        if (episodes.Count == 0) throw new ArgumentException("a task batch needs at least one episode.");
        Indices = episodes.Select(e => e.Index).ToArray();
        Kind = episodes[0].Kind;
        if (episodes.Any(e => e.Kind != Kind)) throw new ArgumentException("a task batch needs episodes of one kind.");
        SupportX = stack(episodes.Select(e => e.SupportX));
        SupportY = stack(episodes.Select(e => e.SupportY));
        QueryX = stack(episodes.Select(e => e.QueryX));
        QueryY = stack(episodes.Select(e => e.QueryY));
    }

    public long[] Indices { get; }
    public int Count => Indices.Length;
    public TaskKind Kind { get; }
    public Tensor SupportX { get; }
    public Tensor SupportY { get; }
    public Tensor QueryX { get; }
    public Tensor QueryY { get; }

    /// <summary>Mean squared error of each task, [T]: the mean over every axis but the first.</summary>
    public static Tensor PerTaskMse(Tensor output, Tensor target) =>
        HeldScalars.Square(output - target).mean([1, 2]); // not square(): pow(2) with an implicit Scalar (HeldScalars)

    /// <summary>
    /// Each task's <see cref="TaskLoss.Loss"/>, [T]: for classification the cross-entropy of outputs [T, n, classes]
    /// against labels [T, n], averaged over each task's n examples alone.
    /// </summary>
    public Tensor PerTaskLoss(Tensor output, Tensor target)
    {
        if (Kind == TaskKind.Regression) return PerTaskMse(output, target);
        long tasks = output.shape[0], n = output.shape[1];
        return F.cross_entropy(output.reshape(tasks * n, -1), target.reshape(-1), reduction: nn.Reduction.None)
            .reshape(tasks, n).mean([1]);
    }

    /// <summary>Each task's loss and (classification) accuracy as numbers, from outputs and their per-task losses.</summary>
    public TaskScores Score(Tensor output, Tensor perTaskLoss, Tensor target)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        double[]? accuracy = Kind == TaskKind.Regression ? null
            : TensorData.ToDoubles(output.argmax(2).eq(target).to_type(ScalarType.Float64).mean([1]));
        return new TaskScores(TensorData.ToDoubles(perTaskLoss), accuracy);
    }

    /// <summary>θ copied once per task, as leaves [T, …]: the gradient with respect to slice t is task t's alone.</summary>
    public Tensor[] PerTaskLeaves(IReadOnlyList<Tensor> theta) =>
        theta.Select(p => p.detach().unsqueeze(0).expand([Count, .. p.shape]).clone().requires_grad_()).ToArray();

    /// <summary>Splits per-task tensors [T, …] into one flat float32 vector per task, in layout order.</summary>
    public static float[][] FlattenPerTask(ParameterLayout layout, IReadOnlyList<Tensor> perTask, int tasks)
    {
        using var scope = NewDisposeScope();
        var rows = TensorData.Rows(cat(perTask.Select(t => t.detach().reshape(tasks, -1).to_type(ScalarType.Float32)).ToArray(), 1));
        if (rows.Length > 0 && rows[0].Length != layout.TotalCount)
            throw new ArgumentException($"per-task tensors hold {rows[0].Length} values per task, but {layout.Describe()} has {layout.TotalCount}.");
        return rows;
    }
}

/// <summary>Per-task query loss and, for classification, accuracy.</summary>
public sealed record TaskScores(double[] Loss, double[]? Accuracy)
{
    public static EpisodeMetrics[] Metrics(TaskScores? before, TaskScores after) =>
        after.Loss.Select((loss, t) => new EpisodeMetrics(before?.Loss[t], loss, before?.Accuracy?[t], after.Accuracy?[t])).ToArray();
}

/// <summary>An algorithm that can compute the contributions of a whole <see cref="TaskBatch"/> in one pass.</summary>
public interface ITaskBatchedAlgorithm
{
    /// <summary>Contributions [T, …] per parameter, and each task's metrics.</summary>
    (IReadOnlyList<Tensor> Contributions, EpisodeMetrics[] Metrics) ComputeBatch(IBatchedModel model, IReadOnlyList<Tensor> theta, TaskBatch batch);
}
