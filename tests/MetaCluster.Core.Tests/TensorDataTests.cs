using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>TensorData reads values straight from the tensor's buffer: these check it does so in row-major order whatever the layout or dtype.</summary>
public class TensorDataTests
{
    [Fact]
    public void RowsOfATransposedDoubleTensorComeOutInLogicalOrder()
    {
        using var scope = NewDisposeScope();
        // [[0, 3], [1, 4], [2, 5]] as a transposed (non-contiguous) float64 view.
        var t = arange(6, dtype: ScalarType.Float64).reshape(2, 3).t();
        Assert.False(t.is_contiguous());
        var rows = TensorData.Rows(t);
        Assert.Equal([[0f, 3f], [1f, 4f], [2f, 5f]], rows);
    }

    [Fact]
    public void CopyToReadsAChannelsLastTensorAsItsShapeSays()
    {
        using var scope = NewDisposeScope();
        var x = arange(24, dtype: ScalarType.Float32).reshape(1, 2, 3, 4);
        var channelsLast = Conv4.ChannelsLast(x);
        var values = new float[24];
        TensorData.CopyTo(channelsLast, values);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (float)i), values);
        Assert.Equal(values, TensorData.ToFloats(channelsLast));
        Assert.Equal(values.Select(v => (double)v), TensorData.ToDoubles(channelsLast));
    }

    [Fact]
    public void CopyToRefusesADestinationOfAnotherSize()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => TensorData.CopyTo(ones(5), new float[4]));
        Assert.Contains("5 values", e.Message);
        Assert.Throws<ArgumentException>(() => TensorData.Rows(ones(5)));
    }
}
