using System.Collections.Concurrent;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// One long-lived thread that runs a worker slot's torch work, one item at a time. libtorch's OpenMP runtime keeps a
/// thread team per calling thread: work that hops between thread-pool threads (Task.Run) keeps meeting cold teams and
/// caches, so each slot always calls into torch from the same thread. Work runs synchronously on it — dispose scopes
/// are thread-static and never cross an await.
/// </summary>
internal sealed class ComputeThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public ComputeThread(string name)
    {
        _thread = new Thread(() =>
        {
            foreach (var item in _work.GetConsumingEnumerable()) item();
        })
        { IsBackground = true, Name = name };
        _thread.Start();
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
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
        return completion.Task;
    }

    public void Dispose() => _work.CompleteAdding();
}
