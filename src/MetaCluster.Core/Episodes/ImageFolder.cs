using StbImageSharp;

namespace MetaCluster.Core.Episodes;

/// <summary>When to flip image intensities so that strokes / objects are 1 and background 0, as models expect.</summary>
public enum InvertMode
{
    /// <summary>Invert when the dataset is mostly light (mean gray above 0.5), i.e. dark ink on white paper.</summary>
    Auto,
    Always,
    Never,
}

/// <summary>Options for <see cref="ImageFolder"/>.</summary>
public sealed record ImageFolderOptions
{
    public int Height { get; init; } = 28;
    public int Width { get; init; } = 28;
    public InvertMode Invert { get; init; } = InvertMode.Auto;
    /// <summary>Each 90° rotation of a class is a class of its own (square images only).</summary>
    public bool Rotate { get; init; }
}

/// <summary>
/// A user's own few-shot data: <c>DIR/&lt;class&gt;/&lt;image&gt;</c>, one sub-folder per class, images in any format
/// StbImageSharp decodes (png, jpg, bmp, gif, tga, psd, hdr). Images are converted to grayscale (an alpha channel is
/// dropped), area-resized to the target size and scaled to [0, 1]. Classes are sub-folders sorted by name (ordinal),
/// images sorted by file name; other files (e.g. README.txt) are ignored.
/// </summary>
public static class ImageFolder
{
    private static readonly HashSet<string> Extensions =
        new([".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".psd", ".hdr"], StringComparer.OrdinalIgnoreCase);

    /// <summary>An episode source over every class in <paramref name="directory"/>.</summary>
    public static ClassEpisodeSource OpenSource(string directory, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        var images = Load(directory, options);
        var views = ClassView.For(Enumerable.Range(0, images.ClassCount), options.Rotate);
        return new ClassEpisodeSource(images, views, $"folder:{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)))} ({views.Count} classes)");
    }

    /// <summary>Decodes every image under <paramref name="directory"/>, one class per sub-folder.</summary>
    public static ImageClassSet Load(string directory, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        if (options.Height < 1 || options.Width < 1)
            throw new ArgumentException($"image size must be positive (got {options.Height}×{options.Width}).");
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"image folder not found: {Path.GetFullPath(directory)}.");

        string[] classDirs = Directory.GetDirectories(directory).Order(StringComparer.Ordinal).ToArray();
        if (classDirs.Length == 0)
        {
            bool hasImages = Directory.EnumerateFiles(directory).Any(IsImage);
            throw new ArgumentException(
                $"image folder {directory} has no class sub-folders" + (hasImages ? " (its images sit directly in it)" : "") +
                "; expected one sub-folder per class, e.g. DIR/cat/001.png, DIR/dog/001.png.");
        }

        var files = new List<string>();
        var counts = new List<int>();
        foreach (string dir in classDirs)
        {
            string[] images = Directory.GetFiles(dir).Where(IsImage).Order(StringComparer.Ordinal).ToArray();
            if (images.Length == 0)
                throw new ArgumentException($"class folder {dir} has no images ({string.Join(", ", Extensions.Order())}); add images or remove the folder.");
            files.AddRange(images);
            counts.Add(images.Length);
        }

        var pixels = LoadImages(files, options);
        return new ImageClassSet(pixels, options.Height, options.Width, [.. classDirs.Select(d => Path.GetFileName(d))], counts);
    }

    /// <summary>
    /// Decodes the given image files as <see cref="Load"/> does a class folder's (grayscale, area-resized, [0, 1],
    /// inverted per <see cref="ImageFolderOptions.Invert"/> over all of them): one image after another, row-major.
    /// </summary>
    public static float[] LoadImages(IReadOnlyList<string> files, ImageFolderOptions? options = null)
    {
        options ??= new ImageFolderOptions();
        if (options.Height < 1 || options.Width < 1)
            throw new ArgumentException($"image size must be positive (got {options.Height}×{options.Width}).");
        int outPixels = options.Height * options.Width;
        var pixels = new float[files.Count * outPixels];
        var decoded = new (float[] Gray, int Width, int Height)[files.Count];
        try
        {
            Parallel.For(0, files.Count, i => decoded[i] = Decode(files[i]));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }

        // Resize images of the same size together: one torch call per distinct size.
        foreach (var group in Enumerable.Range(0, files.Count).GroupBy(i => (decoded[i].Height, decoded[i].Width)))
        {
            int[] members = [.. group];
            var (h, w) = group.Key;
            var batch = new float[members.Length * h * w];
            for (int m = 0; m < members.Length; m++) decoded[members[m]].Gray.CopyTo(batch, m * h * w);
            var resized = new float[members.Length * outPixels];
            ImageResize.Area(batch, members.Length, h, w, resized, options.Height, options.Width);
            for (int m = 0; m < members.Length; m++)
                resized.AsSpan(m * outPixels, outPixels).CopyTo(pixels.AsSpan(members[m] * outPixels));
        }

        bool invert = options.Invert switch
        {
            InvertMode.Always => true,
            InvertMode.Never => false,
            _ => pixels.Length > 0 && pixels.Average() > 0.5,
        };
        if (invert)
            for (int i = 0; i < pixels.Length; i++) pixels[i] = 1f - pixels[i];
        return pixels;
    }

    /// <summary>True for the file types <see cref="Load"/> reads.</summary>
    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path));

    private static (float[] Gray, int Width, int Height) Decode(string path)
    {
        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(File.ReadAllBytes(path), ColorComponents.Grey);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"cannot decode image {path}: {e.Message}; remove or replace the file.", e);
        }
        var gray = new float[image.Width * image.Height];
        for (int i = 0; i < gray.Length; i++) gray[i] = image.Data[i] / 255f;
        return (gray, image.Width, image.Height);
    }
}
