using System.Collections.Concurrent;

namespace MetaCluster.Grains.Bulk;

/// <summary>
/// θ's arrays at a silo's hub, reused from round to round: θ fetched over the bulk channel lands in one of these rather
/// than in a fresh large-object array a round (what an Orleans message gives). Exact lengths, because a slot reads θ's
/// length as the parameter count; an array of another length (an earlier run's) is dropped.
/// </summary>
public sealed class ThetaBuffers
{
    /// <summary>Arrays kept at most: one per round in flight at a hub, which is one or two.</summary>
    private const int Kept = 4;

    private readonly ConcurrentBag<byte[]> _free = [];

    public byte[] Rent(int length)
    {
        while (_free.TryTake(out var array))
            if (array.Length == length) return array;
        return GC.AllocateUninitializedArray<byte>(length);
    }

    /// <summary>Gives an array back once nothing reads it any more.</summary>
    public void Return(byte[] array)
    {
        if (_free.Count < Kept) _free.Add(array);
    }
}
