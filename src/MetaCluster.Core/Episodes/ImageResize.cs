using TorchSharp;
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
    // The 8-bit range as held Scalars: clamp(0, 255) would pass implicit ones, left to a finalizer that a garbage
    // collection on another thread can run mid-kernel (HeldScalars), once per image of a mini-ImageNet cache build.
    private static readonly Scalar Black = 0, White = 255;

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

    /// <summary>
    /// Resizes one 8-bit image of <paramref name="channels"/> planes (C, H, W) to outHeight × outWidth with
    /// antialiased bicubic interpolation, rounded and clamped back to 8 bits. Why bicubic: the common mini-ImageNet
    /// pickles were made with PIL's ANTIALIAS (Lanczos, a = 3), which libtorch lacks; its antialiased bicubic is the
    /// same kind of filter (a windowed, negative-lobed kernel widened by the scale factor, PIL's a = −0.5 cubic) and
    /// differs from Lanczos by a gray level or two, whereas area averaging blurs more than either. Bicubic
    /// overshoots at edges, hence the clamp. An image already at the target size is copied unchanged.
    /// </summary>
    public static void AntialiasedBicubic(ReadOnlySpan<byte> source, int channels, int height, int width, Span<byte> target, int outHeight, int outWidth)
    {
        if (height == outHeight && width == outWidth)
        {
            source[..(channels * height * width)].CopyTo(target);
            return;
        }
        var values = new float[channels * height * width];
        for (int i = 0; i < values.Length; i++) values[i] = source[i];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(values, [1, channels, height, width]);
        var y = nn.functional.interpolate(x, [outHeight, outWidth], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true)
            .round().clamp(Black, White).contiguous();
        var resized = new float[channels * outHeight * outWidth];
        TensorData.CopyTo(y, resized);
        for (int i = 0; i < resized.Length; i++) target[i] = (byte)resized[i];
    }
}
