using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// Antialiased downscaling shared by the Omniglot and image-folder loaders. Area interpolation averages every
/// source pixel a target pixel covers (fractional coverage included), so thin strokes fade instead of vanishing
/// the way they can under nearest-neighbour or plain bilinear sampling, and a constant image stays exactly constant.
/// </summary>
internal static class ImageResize
{
    /// <summary>Resizes <paramref name="count"/> images of h×w packed in <paramref name="source"/> into <paramref name="target"/>.</summary>
    public static void Area(float[] source, int count, int height, int width, Span<float> target, int outHeight, int outWidth)
    {
        if (height == outHeight && width == outWidth)
        {
            source.AsSpan(0, count * height * width).CopyTo(target);
            return;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(source, [count, 1, height, width]);
        var y = nn.functional.interpolate(x, [outHeight, outWidth], mode: InterpolationMode.Area).contiguous();
        TensorData.CopyTo(y, target[..(count * outHeight * outWidth)]);
    }
}
