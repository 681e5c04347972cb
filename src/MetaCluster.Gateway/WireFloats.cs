using System.Runtime.InteropServices;
using Google.Protobuf;

namespace MetaCluster.Gateway;

/// <summary>θ and updates on the wire: raw little-endian float32, 4 bytes per parameter, no framing of our own.</summary>
public static class WireFloats
{
    static WireFloats()
    {
        // The cast below reads the machine's byte order; every platform .NET and libtorch run on here is little-endian.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the federation wire format is little-endian float32; this machine is big-endian.");
    }

    public static ByteString ToBytes(ReadOnlySpan<float> values) => ByteString.CopyFrom(MemoryMarshal.AsBytes(values));

    /// <summary>The floats of <paramref name="bytes"/>, whose length must be a multiple of 4 (checked by the caller).</summary>
    public static float[] ToFloats(ByteString bytes) => MemoryMarshal.Cast<byte, float>(bytes.Span).ToArray();
}
