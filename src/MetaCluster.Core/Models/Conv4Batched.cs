using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Models;

/// <summary>
/// Conv4 over T tasks at once. Tasks are folded into channels — input [n, T·Cin, H, W], weights [T·Cout, Cin, 3, 3],
/// groups = T — so one grouped convolution does every task's convolution and task t only ever sees its own weights.
/// Batch norm on the folded channels takes statistics over (n, H, W) per folded channel, i.e. per task and channel:
/// exactly what <see cref="Embed"/> does for each task alone. ReLU, max-pool and the strided blocks' average are per channel, so unchanged.
/// Every task of a batch must have the same number of examples n (true of N-way K-shot episodes).
/// </summary>
public sealed partial class Conv4 : IBatchedModel
{
    /// <summary>
    /// Small passes when Conv4 is batched at all: a big pass holds activations of hundreds of megabytes that miss
    /// every cache and are mmapped afresh (page faults) on each allocation, so it is slower and holds more memory.
    /// Passes of 2 are the fastest and hold the least (measurements: docs/benchmarks.md).
    /// </summary>
    public const int DefaultTasksPerPass = 2;

    public int TasksPerPass => _tasksPerPass;

    /// <summary>
    /// No on CPU: one Conv4 episode already keeps libtorch's kernels busy, so one at a time is as fast as grouped
    /// convolutions and holds less memory (measurements: docs/benchmarks.md).
    /// </summary>
    public bool AutoBatches => false;

    /// <summary>x [T, n, Cin, H, W] → features [T, n, F], F in <see cref="Embed"/>'s flatten order (channel, row, column).</summary>
    public Tensor EmbedBatched(Tensor x, IReadOnlyList<Tensor> body)
    {
        long tasks = x.shape[0], n = x.shape[1];
        var h = ChannelsLast(x.transpose(0, 1).reshape(n, tasks * x.shape[2], x.shape[3], x.shape[4]));
        for (int b = 0; b < Blocks; b++)
        {
            var weight = body[4 * b];
            h = Block(Convolve(h, weight.reshape(tasks * weight.shape[1], weight.shape[2], weight.shape[3], weight.shape[4]),
                body[4 * b + 1].reshape(-1), groups: tasks), body[4 * b + 2].reshape(-1), body[4 * b + 3].reshape(-1));
        }
        // [n, T·C(, s, s)] → [n, T, C(·s·s)] keeps each task's channels together in (c, row, column) order.
        return Features(h).reshape(n, tasks, -1).transpose(0, 1);
    }

    public Tensor HeadBatched(Tensor features, IReadOnlyList<Tensor> head) =>
        BatchedModelExtensions.LinearBatched(features, head[0], head[1]);
}
