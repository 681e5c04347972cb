using System.Collections.Concurrent;
using MetaCluster.Contracts;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// Exact sums reused from round to round within a silo: a silo hub's sum for its share (<see cref="HubShareSum"/>, which
/// the silo's slots add into), or a slot's own when it is called from another process and writes its share onto the
/// wire. Each is released once its bytes are written.
/// </summary>
public sealed class ShareSumPool
{
    /// <summary>Sums kept for reuse at most: more than any silo's slots and hubs hold at once.</summary>
    private const int Kept = 64;

    private readonly ConcurrentBag<ExactSum> _free = [];

    /// <summary>An empty sum of <paramref name="length"/> values, reused when one is free (sums of another length — an earlier run's — are dropped).</summary>
    public Lease Rent(int length)
    {
        while (_free.TryTake(out var sum))
        {
            if (sum.Length != length) continue;
            sum.Clear();
            return new Lease(sum, this);
        }
        return new Lease(new ExactSum(length), this);
    }

    /// <summary>A sum on loan: its holder reads or fills <see cref="Sum"/> and releases it once, after which it may be anyone's.</summary>
    public sealed class Lease(ExactSum sum, ShareSumPool pool)
    {
        private int _released;

        public ExactSum Sum { get; } = sum;

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0 && pool._free.Count < Kept) pool._free.Add(Sum);
        }
    }
}
