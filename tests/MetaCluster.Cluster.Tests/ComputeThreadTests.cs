using MetaCluster.Grains.Worker;

namespace MetaCluster.Cluster.Tests;

/// <summary>A slot's compute thread: its items run one at a time, in order, on the one named thread — and end cleanly.</summary>
public class ComputeThreadTests
{
    [Fact]
    public async Task ItemsRunOneAtATimeInOrderOnTheSlotsOwnThread()
    {
        using var compute = new ComputeThread("metacluster-worker test-slot");
        int running = 0, overlaps = 0;
        var order = new List<int>();
        var threads = new HashSet<int>();
        var names = new HashSet<string?>();
        var items = Enumerable.Range(0, 200).Select(i => compute.Run(() =>
        {
            if (Interlocked.Increment(ref running) > 1) overlaps++;
            order.Add(i);
            threads.Add(Environment.CurrentManagedThreadId);
            names.Add(Thread.CurrentThread.Name);
            if (i % 50 == 0) Thread.Sleep(5); // while later items queue up
            Interlocked.Decrement(ref running);
            return i * i;
        })).ToArray();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => i * i), await Task.WhenAll(items));
        Assert.Equal(0, overlaps);
        Assert.Equal(Enumerable.Range(0, 200), order);
        Assert.Single(threads);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, threads);
        Assert.Equal(["metacluster-worker test-slot"], names);
    }

    [Fact]
    public async Task AFailingItemFaultsOnlyItsOwnTask()
    {
        using var compute = new ComputeThread("metacluster-worker failing");
        var failing = compute.Run<int>(() => throw new InvalidOperationException("episode 7 is corrupt"));
        var next = compute.Run(() => 42);
        Assert.Equal("episode 7 is corrupt", (await Assert.ThrowsAsync<InvalidOperationException>(() => failing)).Message);
        Assert.Equal(42, await next);
    }

    [Fact]
    public async Task DisposingLetsQueuedItemsFinishAndRefusesNewOnes()
    {
        var compute = new ComputeThread("metacluster-worker ending");
        using var gate = new ManualResetEventSlim();
        var blocked = compute.Run(() => gate.Wait(TimeSpan.FromSeconds(30)));
        var queued = compute.Run(() => "ran after dispose");
        compute.Dispose();
        gate.Set();
        Assert.True(await blocked);
        Assert.Equal("ran after dispose", await queued);
        Assert.Throws<ObjectDisposedException>(() => { _ = compute.Run(() => 0); }); // refused at once, not a faulted task
    }
}
