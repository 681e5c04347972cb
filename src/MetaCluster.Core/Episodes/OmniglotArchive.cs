using System.IO.Compression;
using StbImageSharp;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// Decodes the official Omniglot zips (<c>images_background.zip</c>, <c>images_evaluation.zip</c>) straight from
/// the archives: entries <c>images_background/&lt;Alphabet&gt;/characterNN/IIII_DD.png</c>, 105×105 1-bit PNGs,
/// black strokes on white. Each image is inverted (strokes = 1, background = 0) and area-resized to the target size.
/// Classes are the character folders sorted by path (ordinal) and images within a class are sorted by file name,
/// so class and image indices are the same on every machine.
/// </summary>
public static class OmniglotArchive
{
    public const string BackgroundZip = "images_background.zip";
    public const string EvaluationZip = "images_evaluation.zip";
    public const int SourceSize = 105;

    /// <summary>Where to point users whose data folder lacks the zips.</summary>
    public const string DownloadHint =
        "The official zips are python/images_background.zip and python/images_evaluation.zip from " +
        "https://github.com/brendenlake/omniglot; put them in one folder and pass it with --data DIR.";

    /// <summary>Batch size for the torch resize: large enough to amortise the call, small enough to keep memory modest.</summary>
    private const int ResizeBatch = 2048;

    /// <summary>The zips' paths in the canonical order (background, then evaluation), checking that they exist.</summary>
    public static string[] ZipPaths(string dataDir)
    {
        string[] paths = [Path.Combine(dataDir, BackgroundZip), Path.Combine(dataDir, EvaluationZip)];
        foreach (string p in paths)
            if (!File.Exists(p))
                throw new FileNotFoundException($"Omniglot zip not found: {Path.GetFullPath(p)}. {DownloadHint}", p);
        return paths;
    }

    /// <summary>Reads every character of the given zips into one set, classes named by their path inside the zip.</summary>
    public static ImageClassSet Read(IReadOnlyList<string> zipPaths, int imageSize = 28)
    {
        if (imageSize < 1 || imageSize > SourceSize)
            throw new ArgumentOutOfRangeException(nameof(imageSize), $"image size must be in 1..{SourceSize} (got {imageSize}).");

        var entries = new List<PngEntry>();
        foreach (string zip in zipPaths) entries.AddRange(ReadEntries(zip));
        entries.Sort((a, b) => string.CompareOrdinal(a.ClassName, b.ClassName) is var c && c != 0
            ? c : string.CompareOrdinal(a.FileName, b.FileName));

        var names = new List<string>();
        var counts = new List<int>();
        foreach (var e in entries)
        {
            if (names.Count == 0 || names[^1] != e.ClassName)
            {
                names.Add(e.ClassName);
                counts.Add(0);
            }
            counts[^1]++;
        }

        int outPixels = imageSize * imageSize;
        var pixels = new float[entries.Count * outPixels];
        for (int start = 0; start < entries.Count; start += ResizeBatch)
        {
            int n = Math.Min(ResizeBatch, entries.Count - start);
            var batch = new float[n * SourceSize * SourceSize];
            // StbImageSharp keeps no shared state between calls, so images decode independently on every core.
            try
            {
                Parallel.For(0, n, i => DecodeInverted(entries[start + i], batch.AsSpan(i * SourceSize * SourceSize, SourceSize * SourceSize)));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // Report the first bad entry itself rather than a wrapper.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
            }
            ImageResize.Area(batch, n, SourceSize, SourceSize, pixels.AsSpan(start * outPixels), imageSize, imageSize);
        }
        return new ImageClassSet(pixels, imageSize, imageSize, names, counts);
    }

    private sealed record PngEntry(string Zip, string EntryName, string ClassName, string FileName, byte[] Bytes);

    /// <summary>Loads the compressed PNGs into memory (zip reading is sequential; decoding then runs in parallel).</summary>
    private static List<PngEntry> ReadEntries(string zipPath)
    {
        if (!File.Exists(zipPath))
            throw new FileNotFoundException($"Omniglot zip not found: {Path.GetFullPath(zipPath)}. {DownloadHint}", zipPath);
        var found = new List<PngEntry>();
        try
        {
            using var archive = ZipFile.OpenRead(zipPath);
            foreach (var entry in archive.Entries)
            {
                // <root>/<Alphabet>/<character>/<file>.png; directory entries and stray files are skipped.
                string[] parts = entry.FullName.Split('/');
                if (parts.Length != 4 || parts.Any(p => p.Length == 0) || !parts[3].EndsWith(".png", StringComparison.OrdinalIgnoreCase))
                    continue;
                var bytes = new byte[entry.Length];
                using (var s = entry.Open()) s.ReadExactly(bytes);
                found.Add(new PngEntry(zipPath, entry.FullName, string.Join('/', parts[..3]), parts[3], bytes));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"Omniglot zip {zipPath} is corrupt or not a zip ({e.Message}). Download it again. {DownloadHint}", e);
        }
        if (found.Count == 0)
            throw new InvalidDataException(
                $"Omniglot zip {zipPath} has no images in the expected layout <root>/<Alphabet>/<characterNN>/<name>.png. {DownloadHint}");
        return found;
    }

    private static void DecodeInverted(PngEntry entry, Span<float> target)
    {
        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(entry.Bytes, ColorComponents.Grey);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"cannot decode {entry.EntryName} in {entry.Zip}: {e.Message}", e);
        }
        if (image.Width != SourceSize || image.Height != SourceSize)
            throw new InvalidDataException(
                $"{entry.EntryName} in {entry.Zip} is {image.Width}×{image.Height}; Omniglot images are {SourceSize}×{SourceSize}.");
        var data = image.Data;
        for (int i = 0; i < target.Length; i++) target[i] = (255 - data[i]) / 255f;
    }
}
