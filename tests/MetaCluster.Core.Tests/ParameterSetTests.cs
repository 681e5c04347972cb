using MetaCluster.Core.Models;

namespace MetaCluster.Core.Tests;

public class ParameterSetTests
{
    private static readonly ParameterLayout Layout = new([("w", [2L, 3]), ("b", [3L])]);

    [Fact]
    public void ASetOverWireBytesReadsThemInPlaceAndGivesTheSameTensorsAsACopiedOne()
    {
        var values = Enumerable.Range(0, 9).Select(i => i * 0.25f - 1).ToArray();
        var copied = new ParameterSet(Layout, values);
        byte[] wire = copied.ToBytes();
        var over = ParameterSet.OverBytes(Layout, wire);

        Assert.Equal(values, over.Span.ToArray());
        Assert.Equal(copied.Sha256(), over.Sha256());
        var (a, b) = (copied.ToTensors(), over.ToTensors());
        for (int i = 0; i < a.Length; i++) Assert.Equal(TensorData.ToFloats(a[i]), TensorData.ToFloats(b[i]));

        // In place: a change to the bytes shows (messages are immutable, so a worker never sees one); Values is a copy.
        wire[0] ^= 0x01;
        Assert.NotEqual(values[0], over.Span[0]);
        var snapshot = over.Values;
        wire[0] ^= 0x01;
        Assert.NotEqual(values[0], snapshot[0]);
        Assert.Same(snapshot, over.Values);

        var error = Assert.Throws<ArgumentException>(() => ParameterSet.OverBytes(Layout, new byte[8]));
        Assert.Contains("8 bytes do not hold the 9 float32 parameters", error.Message);
    }
}
