using System.Buffers.Binary;
using System.Collections;
using System.Runtime.InteropServices;
using System.Text.Json;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>
/// θ exported as a PyTorch state_dict: every parameter under its name, shape and exact float32 bits, in θ's order — read
/// back with PyBridge's own reader for <c>.pt</c>, and by hand from the safetensors layout (8-byte header length, JSON
/// header, raw little-endian data) for <c>.safetensors</c>.
/// </summary>
public sealed class ThetaExportTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"mc-export-{Guid.NewGuid():N}");
    private string PathOf(string name) => Path.Combine(_dir, name);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A small Conv4's θ with values that use every bit pattern class a meta-trained θ has (signs, tiny, large).</summary>
    private static ParameterSet Theta()
    {
        var theta = new Conv4(classes: 3, filters: 4).Initialize(7);
        var values = theta.Values;
        values[0] = -0f;
        values[1] = 1.0e-38f;
        values[^1] = 12345.678f;
        return theta;
    }

    [Fact]
    public void PtFileHoldsEveryParameterBitForBit()
    {
        var theta = Theta();
        ThetaExport.Write(theta, PathOf("theta.pt"));

        using var scope = NewDisposeScope();
        Hashtable read = PyTorchUnpickler.UnpickleStateDict(PathOf("theta.pt"));
        Assert.Equal(theta.Layout.Parameters.Select(p => p.Name).Order(), read.Keys.Cast<string>().Order());
        foreach (var p in theta.Layout.Parameters)
        {
            var tensor = (Tensor)read[p.Name]!;
            Assert.Equal(ScalarType.Float32, tensor.dtype);
            Assert.Equal(p.Shape, tensor.shape);
            Assert.Equal(theta.Span.Slice(p.Offset, p.Count).ToArray(), tensor.data<float>().ToArray());
        }
    }

    [Fact]
    public void SafetensorsFileHasTheStandardLayoutInThetasOrder()
    {
        var theta = Theta();
        ThetaExport.Write(theta, PathOf("theta.safetensors"));

        byte[] file = File.ReadAllBytes(PathOf("theta.safetensors"));
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var entries = header.RootElement.EnumerateObject().Where(e => e.Name != "__metadata__").ToList();
        Assert.Equal(theta.Layout.Parameters.Select(p => p.Name), entries.Select(e => e.Name));
        var data = file.AsSpan(8 + (int)headerLength);
        Assert.Equal(theta.Layout.TotalCount * sizeof(float), data.Length);
        foreach (var (p, entry) in theta.Layout.Parameters.Zip(entries))
        {
            Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
            Assert.Equal(p.Shape, entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            // θ's order and nothing between: each parameter's bytes start where its flat offset says.
            Assert.Equal(new long[] { p.Offset * sizeof(float), (p.Offset + p.Count) * sizeof(float) }, offsets);
            var values = MemoryMarshal.Cast<byte, float>(data[(int)offsets[0]..(int)offsets[1]]).ToArray();
            Assert.Equal(theta.Span.Slice(p.Offset, p.Count).ToArray(), values);
        }
    }

    [Fact]
    public void AnExportReplacesTheFileWholeAndLeavesNoTemporary()
    {
        // A longer file already there: the new one must not keep its tail (a stream opened without truncation would).
        Directory.CreateDirectory(_dir);
        File.WriteAllBytes(PathOf("theta.safetensors"), new byte[1 << 20]);
        var theta = Theta();
        ThetaExport.Write(theta, PathOf("theta.safetensors"));
        byte[] file = File.ReadAllBytes(PathOf("theta.safetensors"));
        Assert.Equal(8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(file) + theta.Layout.TotalCount * sizeof(float), file.Length);
        Assert.Equal(["theta.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("theta.bin", "'.bin'")]
    [InlineData("theta", "no extension")]
    public void AnUnknownExtensionIsRefusedNamingTheFormats(string name, string named)
    {
        var error = Assert.Throws<ArgumentException>(() => ThetaExport.Write(Theta(), PathOf(name)));
        Assert.Contains(named, error.Message);
        Assert.Contains(".pt", error.Message);
        Assert.Contains(".safetensors", error.Message);
        Assert.False(Directory.Exists(_dir) && Directory.EnumerateFileSystemEntries(_dir).Any());
    }

    [Theory]
    [InlineData("a.pt", ThetaExport.Format.PyTorch)]
    [InlineData("a.PTH", ThetaExport.Format.PyTorch)]
    [InlineData("dir.v2/a.safetensors", ThetaExport.Format.Safetensors)]
    public void TheExtensionChoosesTheFormat(string name, ThetaExport.Format format) => Assert.Equal(format, ThetaExport.FormatOf(name));
}
