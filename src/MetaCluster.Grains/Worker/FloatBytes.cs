using System.Runtime.InteropServices;

namespace MetaCluster.Grains.Worker;

/// <summary>float32 vectors ⇄ their raw little-endian bytes, the form they take in grain messages.</summary>
public static class FloatBytes
{
    public static byte[] ToBytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>
    /// The values in place, without a copy (a Conv4 contribution is 450 KB: copying a meta-batch of them every round
    /// keeps the GC busy).
    /// </summary>
    public static ReadOnlySpan<float> AsFloats(byte[] bytes)
    {
        if (bytes.Length % sizeof(float) != 0)
            throw new ArgumentException($"{bytes.Length} bytes are not a whole number of float32 values.");
        return MemoryMarshal.Cast<byte, float>(bytes);
    }
}
