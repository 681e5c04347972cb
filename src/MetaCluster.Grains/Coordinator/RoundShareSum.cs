using MetaCluster.Core.Training;
using Orleans.Serialization.Buffers;

namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// The round's exact sum of the workers' pre-summed shares, each added as the dispatcher accepts it — on the thread
/// pool, while the round's other calls are still out — instead of all of them after the last reply: at the round's end
/// only the last share's add is left (four hubs of a 1.1M-parameter model: one 1.8 ms add instead of four). The sum is
/// exact, so the order in which shares arrive and are added does not change a bit.
/// </summary>
internal sealed class RoundShareSum(ExactSum cleared)
{
    private readonly ConcurrentExactSum _sum = new(cleared);
    private readonly List<long[]> _episodes = [];
    private readonly List<Task> _adds = [];

    /// <summary>Starts adding an accepted share (the dispatcher calls it one share at a time); the share's pooled memory goes back once it is read.</summary>
    public void Take(long[] episodes, PooledBuffer sum)
    {
        _episodes.Add(episodes);
        _adds.Add(Task.Run(() =>
        {
            try
            {
                // A share must hold exactly the episodes it names (checked before it is added); the trainer checks the
                // round's episodes against the count.
                _sum.AddBytes(sum.AsReadOnlySequence(), $"the partial sum of episodes [{string.Join(", ", episodes)}]", expected: episodes.Length);
            }
            finally
            {
                sum.Dispose();
            }
        }));
    }

    /// <summary>Once every share is in: their episodes in the order they were accepted, and the sum. A share that could not be added throws here.</summary>
    public async Task<(IReadOnlyList<long[]> Episodes, ExactSum Sum)> Complete()
    {
        await Task.WhenAll(_adds).ConfigureAwait(false);
        return (_episodes, _sum.Complete());
    }

    /// <summary>Waits for the adds still running, failed or not: the round's sum is cleared for the next round only after them.</summary>
    public Task Settled() => Task.WhenAll(_adds).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
}
