using StbImageSharp;

namespace MetaCluster.Core.Episodes;

/// <summary>One image the split files list, resolved to its file.</summary>
public sealed record MiniImageNetImage(MiniImageNetRow Row, string Path);

/// <summary>
/// Decodes mini-ImageNet images (JPEG in the real release; PNG and the other formats StbImageSharp reads work too)
/// to 8-bit RGB of a fixed size, channel-major (C, H, W), as <see cref="ImageClassSet.FromBytes"/> stores them.
/// Grayscale and alpha images are converted to RGB by the decoder. Images not already at the target size are resized
/// with <see cref="ImageResize.AntialiasedBicubic"/>.
/// </summary>
public static class MiniImageNetImages
{
    public const int Channels = 3;

    /// <summary>Files decoded at once: a bounded number of full-size ImageNet images in memory (a few hundred KB each).</summary>
    private const int Chunk = 256;

    /// <summary>The images one after another, each <c>3 × size × size</c> bytes.</summary>
    public static byte[] Decode(IReadOnlyList<MiniImageNetImage> images, int size)
    {
        int perImage = Channels * size * size;
        var values = new byte[(long)images.Count * perImage];
        for (int start = 0; start < images.Count; start += Chunk)
        {
            int n = Math.Min(Chunk, images.Count - start);
            try
            {
                // StbImageSharp keeps no shared state between calls, and the resize runs in its own dispose scope.
                Parallel.For(0, n, i => DecodeOne(images[start + i], size, values.AsSpan((start + i) * perImage, perImage)));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // Report the first bad image itself rather than a wrapper.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
            }
        }
        return values;
    }

    private static void DecodeOne(MiniImageNetImage image, int size, Span<byte> target)
    {
        ImageResult decoded;
        try
        {
            decoded = ImageResult.FromMemory(File.ReadAllBytes(image.Path), ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException(
                $"cannot decode image {image.Path} ({image.Row.Csv} line {image.Row.Line}): {e.Message}; " +
                "replace it with the release's image, or remove its row from the split file.", e);
        }
        int h = decoded.Height, w = decoded.Width, plane = h * w;
        // Interleaved RGB (H, W, C) → planes (C, H, W).
        var planes = new byte[Channels * plane];
        var data = decoded.Data;
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < Channels; c++)
                planes[c * plane + p] = data[p * Channels + c];
        ImageResize.AntialiasedBicubic(planes, Channels, h, w, target, size, size);
    }
}
