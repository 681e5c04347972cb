using MetaCluster.Core.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Conv4 runs channels-last and pools before its ReLU (both for speed). These tests hold it to the textbook network —
/// NCHW, conv → batch norm → ReLU → max-pool — in values and in gradients, for grey and colour images.
/// </summary>
public class Conv4LayoutTests
{
    /// <summary>The MAML reference code's forward pass, in the default (NCHW) layout throughout.</summary>
    private static Tensor Reference(Tensor x, IReadOnlyList<Tensor> p)
    {
        for (int b = 0; b < Conv4.Blocks; b++)
        {
            x = F.conv2d(x, p[4 * b], p[4 * b + 1], padding: [1, 1]);
            x = F.batch_norm(x, null, null, p[4 * b + 2], p[4 * b + 3], training: true);
            x = F.max_pool2d(F.relu(x), 2);
        }
        return F.linear(x.flatten(1), p[16], p[17]);
    }

    [Theory]
    [InlineData(1, ScalarType.Float32, 1e-5)]
    [InlineData(3, ScalarType.Float32, 1e-5)]
    [InlineData(1, ScalarType.Float64, 1e-12)]
    public void MatchesTheNchwReferenceInValuesAndGradients(int channels, ScalarType dtype, double tolerance) =>
        AssertMatches(new Conv4(classes: 5, inChannels: channels, filters: 8, imageSize: 20), Reference, channels, dtype, tolerance);

    /// <summary>MAML's Omniglot network in NCHW: stride-2 conv → batch norm → ReLU, the last map averaged.</summary>
    private static Tensor StridedReference(Tensor x, IReadOnlyList<Tensor> p)
    {
        for (int b = 0; b < Conv4.Blocks; b++)
        {
            x = F.conv2d(x, p[4 * b], p[4 * b + 1], strides: [2, 2], padding: [1, 1]);
            x = F.relu(F.batch_norm(x, null, null, p[4 * b + 2], p[4 * b + 3], training: true));
        }
        return F.linear(x.mean([2, 3]), p[16], p[17]);
    }

    [Theory]
    [InlineData(1, ScalarType.Float32, 1e-5)]
    [InlineData(3, ScalarType.Float64, 1e-12)]
    public void StridedBlocksMatchTheirNchwReferenceInValuesAndGradients(int channels, ScalarType dtype, double tolerance)
    {
        var model = new Conv4(classes: 5, inChannels: channels, filters: 8, imageSize: 20, downsampling: Downsampling.StridedConv);
        Assert.Equal(8, model.FeatureCount); // 20 → 10 → 5 → 3 → 2, averaged: one feature per filter
        AssertMatches(model, StridedReference, channels, dtype, tolerance);
    }

    /// <summary>The model's logits and their gradients against the reference network's, on the same θ and images.</summary>
    private static void AssertMatches(Conv4 model, Func<Tensor, IReadOnlyList<Tensor>, Tensor> referenceOf, int channels, ScalarType dtype, double tolerance)
    {
        using var scope = NewDisposeScope();
        var theta = model.Initialize(11).ToTensors(requiresGrad: false).Select(t => t.to_type(dtype).requires_grad_()).ToArray();
        var x = rand([12, channels, 20, 20], dtype: dtype, generator: new Generator(5));
        Assert.True(x.is_contiguous());

        var ours = model.Forward(x, theta);
        var reference = referenceOf(x, theta);
        AssertClose(reference, ours, tolerance);

        // A fixed random projection of the outputs, so every logit's gradient counts.
        var weights = randn(ours.shape, dtype: dtype, generator: new Generator(6));
        var ourGradients = autograd.grad([(ours * weights).sum()], theta);
        var referenceGradients = autograd.grad([(reference * weights).sum()], theta);
        // As one vector: a convolution bias ahead of batch norm has a gradient of zero up to rounding.
        AssertClose(cat(referenceGradients.Select(g => g.reshape(-1)).ToArray()), cat(ourGradients.Select(g => g.reshape(-1)).ToArray()), tolerance);
    }

    [Fact]
    public void OnOmniglotBothNetworksHaveTheSameParameters()
    {
        // 28 → 14 → 7 → 3 → 1 pooled, 28 → 14 → 7 → 4 → 2 averaged: 64 features either way, so θ has one layout.
        var pooled = new Conv4(classes: 5);
        var strided = new Conv4(classes: 5, downsampling: Downsampling.StridedConv);
        Assert.Equal(64, strided.FeatureCount);
        Assert.True(pooled.Layout.SameAs(strided.Layout));
        Assert.NotEqual(pooled.Name, strided.Name);
    }

    [Fact]
    public void OnlyThePooledNetworkNeedsSixteenPixels()
    {
        // 8 → 4 → 2 → 1 → 0 pooled; 8 → 4 → 2 → 1 → 1 strided, so the strided network classifies 8×8 images.
        var small = Assert.Throws<ArgumentException>(() => new Conv4(classes: 3, filters: 4, imageSize: 8));
        Assert.Contains("8×8 are too small", small.Message);
        var strided = new Conv4(classes: 3, filters: 4, imageSize: 8, downsampling: Downsampling.StridedConv);
        using var scope = NewDisposeScope();
        var logits = strided.Forward(rand([6, 1, 8, 8], generator: new Generator(3)), strided.Initialize(2).ToTensors(requiresGrad: false));
        Assert.Equal([6L, 3], logits.shape);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ChannelsLastKeepsTheValuesAndChangesOnlyTheStrides(int channels)
    {
        using var scope = NewDisposeScope();
        var x = rand([4, channels, 6, 5], generator: new Generator(7));
        var y = Conv4.ChannelsLast(x);
        Assert.Equal(x.shape, y.shape);
        Assert.Equal([6L * 5 * channels, 1, 5 * channels, channels], y.stride());
        Assert.Equal(x.data<float>().ToArray(), y.contiguous().data<float>().ToArray());
    }

    /// <summary>Relative L2 difference within <paramref name="tolerance"/>.</summary>
    private static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        double norm = expected.norm().to_type(ScalarType.Float64).item<double>();
        double difference = (expected - actual).norm().to_type(ScalarType.Float64).item<double>();
        Assert.True(norm > 0, "the reference is all zeros, so the comparison says nothing");
        Assert.True(difference <= tolerance * norm, $"relative difference {difference / norm:E2}");
    }
}
