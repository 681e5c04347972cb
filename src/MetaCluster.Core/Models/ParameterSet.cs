using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// Named parameter tensors held as ONE flat float32 vector. This is the form θ takes on the wire, in checkpoints and
/// in the outer optimizer; algorithms turn it into tensors (<see cref="ToTensors"/>) for the duration of a step.
/// </summary>
public sealed class ParameterSet
{
    public ParameterSet(ParameterLayout layout, float[] values)
    {
        if (values.Length != layout.TotalCount)
            throw new ArgumentException($"{values.Length} values do not fit a layout of {layout.TotalCount} parameters ({layout.Describe()}).");
        Layout = layout;
        Values = values;
    }

    public ParameterLayout Layout { get; }
    public float[] Values { get; }

    public ParameterSet Clone() => new(Layout, (float[])Values.Clone());

    /// <summary>One tensor per parameter, copied out of the flat vector; leaves that require grad if asked.</summary>
    public Tensor[] ToTensors(bool requiresGrad = false, ScalarType dtype = ScalarType.Float32)
    {
        var tensors = new Tensor[Layout.Count];
        for (int i = 0; i < Layout.Count; i++)
        {
            var info = Layout[i];
            var t = TensorData.Copy(Values.AsSpan(info.Offset, info.Count), info.Shape);
            if (dtype != ScalarType.Float32) t = t.to_type(dtype, disposeAfter: true);
            tensors[i] = requiresGrad ? t.requires_grad_() : t;
        }
        return tensors;
    }

    /// <summary>Flattens tensors laid out as <paramref name="layout"/> into one float32 vector.</summary>
    public static float[] Flatten(ParameterLayout layout, IReadOnlyList<Tensor> tensors)
    {
        var values = new float[layout.TotalCount];
        FlattenInto(layout, tensors, values);
        return values;
    }

    /// <summary>The same into <paramref name="destination"/> (exactly the layout's size).</summary>
    public static void FlattenInto(ParameterLayout layout, IReadOnlyList<Tensor> tensors, Span<float> destination)
    {
        if (tensors.Count != layout.Count)
            throw new ArgumentException($"expected {layout.Count} tensors for {layout.Describe()}, got {tensors.Count}.");
        using var scope = NewDisposeScope();
        using var flat = cat(tensors.Select(t => t.detach().reshape(-1).to_type(ScalarType.Float32)).ToArray(), 0);
        TensorData.CopyTo(flat, destination);
    }

    public static ParameterSet FromTensors(ParameterLayout layout, IReadOnlyList<Tensor> tensors) =>
        new(layout, Flatten(layout, tensors));

    /// <summary>The raw little-endian float32 bytes (4 per parameter) — the compact wire form.</summary>
    public byte[] ToBytes() => MemoryMarshal.AsBytes(Values.AsSpan()).ToArray();

    public static ParameterSet FromBytes(ParameterLayout layout, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != layout.TotalCount * sizeof(float))
            throw new ArgumentException($"{bytes.Length} bytes do not hold the {layout.TotalCount} float32 parameters of {layout.Describe()}.");
        return new ParameterSet(layout, MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }

    /// <summary>The SHA-256 of the parameters' bytes, lower-case hex: one value to compare runs across machines.</summary>
    public string Sha256() => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(MemoryMarshal.AsBytes(Values.AsSpan())));
}
