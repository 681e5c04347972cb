using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// Copies tensor values into managed memory straight from the tensor's buffer. TorchSharp's <c>data&lt;T&gt;()</c>
/// accessor walks the elements one by one through stride arithmetic, which for a sinusoid round's contributions takes a
/// large share of the round itself (docs/benchmarks.md).
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
    /// The memory of a contiguous float32 CPU tensor, to fill in place. Building tensors this way (torch.empty, then
    /// write) keeps managed memory out of them: torch.tensor(float[]) pins the managed array for the tensor's lifetime,
    /// and an episode's 250 KB of Omniglot pixels would sit pinned on the large-object heap, where the GC cannot
    /// compact.
    /// </summary>
    public static Span<float> Writable(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous())
            throw new ArgumentException("only a contiguous float32 CPU tensor can be written in place.");
        return MemoryMarshal.Cast<byte, float>(t.bytes);
    }

    /// <summary>A new float32 CPU tensor of <paramref name="shape"/> holding a copy of <paramref name="values"/>.</summary>
    public static Tensor Copy(ReadOnlySpan<float> values, ReadOnlySpan<long> shape)
    {
        var t = empty(shape.ToArray(), ScalarType.Float32);
        var target = Writable(t);
        if (target.Length != values.Length)
        {
            t.Dispose();
            throw new ArgumentException($"{values.Length} values do not fill a tensor of {target.Length}.");
        }
        values.CopyTo(target);
        return t;
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
