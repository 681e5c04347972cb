using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// Copies tensor values into managed memory straight from the tensor's buffer. TorchSharp's <c>data&lt;T&gt;()</c>
/// accessor walks the elements one by one through stride arithmetic: measured with perf, copying a sinusoid round's
/// 25 × 1,761 contributions that way was a third of the whole round.
/// </summary>
public static class TensorData
{
    /// <summary>The values of <paramref name="source"/> (any shape, layout or device) as float32, in row-major order.</summary>
    public static void CopyTo(Tensor source, Span<float> destination)
    {
        using var dense = Dense(source, ScalarType.Float32);
        var values = MemoryMarshal.Cast<byte, float>(dense.bytes);
        if (values.Length != destination.Length)
            throw new ArgumentException($"a tensor of {values.Length} values does not fit {destination.Length} places.");
        values.CopyTo(destination);
    }

    public static float[] ToFloats(Tensor source)
    {
        using var dense = Dense(source, ScalarType.Float32);
        return MemoryMarshal.Cast<byte, float>(dense.bytes).ToArray();
    }

    /// <summary>
    /// The rows of a 2-D tensor [rows, n] as float32 arrays, copied straight from the tensor's buffer (no array of the
    /// whole: for a sinusoid round that would be a 176 KB large-object allocation, page-faulted afresh every round).
    /// </summary>
    public static float[][] Rows(Tensor source)
    {
        if (source.dim() != 2) throw new ArgumentException($"expected a 2-D tensor, got {source.dim()} dimensions.");
        using var dense = Dense(source, ScalarType.Float32);
        var values = MemoryMarshal.Cast<byte, float>(dense.bytes);
        int rows = (int)source.shape[0], width = (int)source.shape[1];
        var result = new float[rows][];
        for (int r = 0; r < rows; r++) result[r] = values.Slice(r * width, width).ToArray();
        return result;
    }

    public static double[] ToDoubles(Tensor source)
    {
        using var dense = Dense(source, ScalarType.Float64);
        return MemoryMarshal.Cast<byte, double>(dense.bytes).ToArray();
    }

    /// <summary>A contiguous CPU tensor of <paramref name="dtype"/> with the same values (the same storage where it already is one).</summary>
    private static Tensor Dense(Tensor source, ScalarType dtype)
    {
        var t = source.detach();
        if (t.device_type != TorchSharp.DeviceType.CPU) t = Replace(t, t.cpu());
        if (t.dtype != dtype) t = t.to_type(dtype, disposeAfter: true);
        return t.is_contiguous() ? t : Replace(t, t.contiguous());
    }

    private static Tensor Replace(Tensor old, Tensor replacement)
    {
        old.Dispose();
        return replacement;
    }
}
