using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MetaCluster.Core.Models;

/// <summary>
/// Named parameter tensors held as ONE flat float32 vector. This is the form θ takes on the wire, in checkpoints and
/// in the outer optimizer; algorithms turn it into tensors (<see cref="ToTensors"/>) for the duration of a step.
/// A set read from wire bytes (<see cref="OverBytes"/>) keeps them as they are: a worker turns them into tensors
/// directly, one copy, and a float[] is made only if something asks for <see cref="Values"/>.
/// </summary>
public sealed class ParameterSet
{
    private float[]? _values;
    private readonly byte[]? _bytes;

    public ParameterSet(ParameterLayout layout, float[] values)
    {
        if (values.Length != layout.TotalCount)
            throw new ArgumentException($"{values.Length} values do not fit a layout of {layout.TotalCount} parameters ({layout.Describe()}).");
        Layout = layout;
        _values = values;
    }

    private ParameterSet(ParameterLayout layout, byte[] bytes)
    {
        Layout = layout;
        _bytes = bytes;
    }

    public ParameterLayout Layout { get; }

    /// <summary>The values; for a set over wire bytes, a copy made on first use.</summary>
    public float[] Values => _values ??= MemoryMarshal.Cast<byte, float>(_bytes).ToArray();

    /// <summary>The values without a copy, read-only.</summary>
    public ReadOnlySpan<float> Span => _values ?? MemoryMarshal.Cast<byte, float>(_bytes);

    public ParameterSet Clone() => new(Layout, Span.ToArray());

    /// <summary>
    /// One tensor per parameter, copied out of the flat vector; leaves that require grad if asked, on
    /// <paramref name="device"/> (the CPU when null).
    /// </summary>
    public Tensor[] ToTensors(bool requiresGrad = false, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var tensors = new Tensor[Layout.Count];
        for (int i = 0; i < Layout.Count; i++)
        {
            var info = Layout[i];
            var t = TensorData.Copy(Span.Slice(info.Offset, info.Count), info.Shape);
            if (dtype != ScalarType.Float32) t = t.to_type(dtype, disposeAfter: true);
            // The CPU path stays copy-free; a GPU gets the values in one host-to-device copy per parameter.
            if (device is not null && device.type != DeviceType.CPU) t = t.to(device, disposeAfter: true);
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
    public byte[] ToBytes() => MemoryMarshal.AsBytes(Span).ToArray();

    /// <summary><see cref="ToBytes"/> written into <paramref name="destination"/> (a buffer kept from round to round).</summary>
    public void WriteBytes(Span<byte> destination)
    {
        if (destination.Length != Span.Length * sizeof(float))
            throw new ArgumentException($"θ of {Span.Length} parameters is {Span.Length * sizeof(float)} bytes; the buffer holds {destination.Length}.");
        MemoryMarshal.AsBytes(Span).CopyTo(destination);
    }

    public static ParameterSet FromBytes(ParameterLayout layout, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != layout.TotalCount * sizeof(float))
            throw new ArgumentException($"{bytes.Length} bytes do not hold the {layout.TotalCount} float32 parameters of {layout.Describe()}.");
        return new ParameterSet(layout, MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }

    /// <summary>
    /// θ over wire bytes, without copying them: they must not change while the set is in use (grain messages are
    /// immutable). Read-only in effect: <see cref="Values"/> hands out a copy.
    /// </summary>
    public static ParameterSet OverBytes(ParameterLayout layout, byte[] bytes)
    {
        if (bytes.Length != layout.TotalCount * sizeof(float))
            throw new ArgumentException($"{bytes.Length} bytes do not hold the {layout.TotalCount} float32 parameters of {layout.Describe()}.");
        return new ParameterSet(layout, bytes);
    }

    /// <summary>The SHA-256 of the parameters' bytes, lower-case hex: one value to compare runs across machines.</summary>
    public string Sha256() => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(MemoryMarshal.AsBytes(Span)));
}
