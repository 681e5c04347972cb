namespace MetaCluster.Grains.Worker;

/// <summary>
/// One long-lived thread that runs a worker slot's torch work, one item at a time. libtorch's OpenMP runtime keeps a
/// thread team per calling thread: work that hops between thread-pool threads (Task.Run) keeps meeting cold teams and
/// caches, so each slot always calls into torch from the same thread. Work runs synchronously on it — dispose scopes
/// are thread-static and never cross an await.
/// </summary>
/// <remarks>
/// An idle thread waits in <see cref="Monitor.Wait(object)"/>, which blocks at once. It used a BlockingCollection
/// before, whose SemaphoreSlim spins and yields (sched_yield) before it blocks: once a round for every slot, which with
/// 64 slots on two cores was 12 % of all the CPU (perf, bench/scale.sh) — CPU a GPU node's host needs for the
/// wire and the exact sums.
/// </remarks>
internal sealed class ComputeThread : IDisposable
{
    private readonly Queue<Action> _work = new();
    private readonly object _gate = new();
    private bool _completed;

    public ComputeThread(string name)
    {
        new Thread(RunItems) { IsBackground = true, Name = name }.Start();
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            _work.Enqueue(() =>
            {
                try
                {
                    completion.SetResult(work());
                }
                catch (Exception e)
                {
                    completion.SetException(e);
                }
            });
            Monitor.Pulse(_gate);
        }
        return completion.Task;
    }

    /// <summary>Items already queued still run; the thread ends after them.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.Pulse(_gate);
        }
    }

    private void RunItems()
    {
        while (true)
        {
            Action item;
            lock (_gate)
            {
                while (_work.Count == 0)
                {
                    if (_completed) return;
                    Monitor.Wait(_gate);
                }
                item = _work.Dequeue();
            }
            item();
        }
    }
}
