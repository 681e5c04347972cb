using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace MetaCluster.Core.Episodes;

/// <summary>Options for <see cref="MiniImageNetDataset.Load"/>; the defaults are the published protocol (84×84 RGB, no rotations).</summary>
public sealed record MiniImageNetOptions
{
    /// <summary>Side of the square images (84 in Ravi &amp; Larochelle and every paper since).</summary>
    public int ImageSize { get; init; } = 84;

    /// <summary>Folder holding train.csv, val.csv and test.csv; null means the data folder itself.</summary>
    public string? SplitCsvDirectory { get; init; }

    /// <summary>Each 90° rotation of a class is a class of its own (not part of the protocol; off by default).</summary>
    public bool Rotate { get; init; }

    /// <summary>Folder for the decoded cache; null means <see cref="OmniglotCache.DefaultDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>False decodes the images on every load and writes no cache.</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Share the decoded images with any part of this process that loaded the same data (see OmniglotOptions.ReuseLoaded).</summary>
    public bool ReuseLoaded { get; init; } = true;
}

/// <summary>
/// mini-ImageNet (Vinyals et al. 2016) with Ravi &amp; Larochelle's split (2017): 64 train, 16 validation and 20 test
/// classes of 600 ImageNet images each, listed in train.csv / val.csv / test.csv over one <c>images/</c> folder.
/// Train episodes come from train.csv's classes, validation from val.csv's, evaluation from test.csv's — the same
/// Train / Validation / Test sources as <see cref="OmniglotDataset"/>. Classes are ordered by label (ordinal) within
/// each split and images by file name, so indices do not depend on row order.
/// </summary>
public sealed class MiniImageNetDataset
{
    public const string ImagesFolder = "images";
    public static readonly string[] SplitFiles = ["train.csv", "val.csv", "test.csv"];

    /// <summary>Where to point users who lack the data.</summary>
    public const string DownloadHint =
        "mini-ImageNet is Ravi & Larochelle's split files (train.csv, val.csv, test.csv from https://github.com/twitter/meta-learning-lstm, " +
        "data/miniImagenet/) over ImageNet ILSVRC-2012 train images in DIR/images/; see docs/commands.md, \"Data: mini-ImageNet\".";

    private MiniImageNetDataset(ImageClassSet images, ClassEpisodeSource train, ClassEpisodeSource validation, ClassEpisodeSource test)
    {
        Images = images;
        Train = train;
        Validation = validation;
        Test = test;
    }

    /// <summary>Every class of the three splits (train's, then val's, then test's), 8-bit RGB.</summary>
    public ImageClassSet Images { get; }
    public ClassEpisodeSource Train { get; }
    public ClassEpisodeSource Validation { get; }
    public ClassEpisodeSource Test { get; }
    public TimeSpan LoadTime { get; private init; }
    public bool CacheHit { get; private init; }
    public string? CachePath { get; private init; }

    /// <summary>Reads the split files, then the images from the cache or by decoding DIR/images.</summary>
    public static MiniImageNetDataset Load(string dataDir, MiniImageNetOptions? options = null)
    {
        options ??= new MiniImageNetOptions();
        if (options.ImageSize < 16)
            throw new ArgumentException($"mini-ImageNet images must be at least 16×16 for Conv4's four pooling blocks (got {options.ImageSize}).");
        var clock = Stopwatch.StartNew();
        var (classes, counts, images, splitSizes) = Resolve(dataDir, options.SplitCsvDirectory);
        byte[] key = Key(options.SplitCsvDirectory ?? dataDir, images, options.ImageSize);
        string loadedKey = $"{Convert.ToHexStringLower(key)}|{options.UseCache}|{options.CacheDirectory}";
        string? cachePath = options.UseCache ? MiniImageNetCache.PathFor(key, options.ImageSize, options.CacheDirectory) : null;
        bool hit = false;
        ImageClassSet? set;
        lock (Loaded)
        {
            if (options.ReuseLoaded && Loaded.TryGetValue(loadedKey, out var loaded) && loaded.TryGetTarget(out set))
            {
                hit = true;
            }
            else
            {
                set = cachePath is not null && BitConverter.IsLittleEndian ? MiniImageNetCache.TryRead(cachePath, key) : null;
                hit = set is not null;
                if (set is null)
                {
                    byte[] values = MiniImageNetImages.Decode(images, options.ImageSize);
                    set = ImageClassSet.FromBytes(values, MiniImageNetImages.Channels, options.ImageSize, options.ImageSize, classes, counts);
                    if (cachePath is not null && BitConverter.IsLittleEndian) MiniImageNetCache.TryWrite(cachePath, key, set);
                }
                Loaded[loadedKey] = new WeakReference<ImageClassSet>(set);
            }
        }

        int trainCount = splitSizes[0], valCount = splitSizes[1], testCount = splitSizes[2];
        ClassEpisodeSource Source(int first, int count, string part)
        {
            var views = ClassView.For(Enumerable.Range(first, count), options.Rotate);
            return new ClassEpisodeSource(set, views, $"mini-imagenet/{part} ({views.Count} classes)");
        }
        return new MiniImageNetDataset(set, Source(0, trainCount, "train"), Source(trainCount, valCount, "validation"),
            Source(trainCount + valCount, testCount, "test"))
        {
            LoadTime = clock.Elapsed,
            CacheHit = hit,
            CachePath = cachePath,
        };
    }

    /// <summary>One line for logs, e.g. "mini-imagenet (Ravi & Larochelle split): train 64, validation 16, test 20 classes; …".</summary>
    public string Describe()
    {
        string source = CachePath is null ? "decoded, no cache" : CacheHit ? $"cache hit {CachePath}" : $"decoded, cached to {CachePath}";
        return $"mini-imagenet (Ravi & Larochelle split): train {Train.ClassCount}, validation {Validation.ClassCount}, " +
               $"test {Test.ClassCount} classes of {Images.Height}×{Images.Width} RGB; loaded in {LoadTime.TotalSeconds:F2} s ({source})";
    }

    /// <summary>Decoded images while anything still uses them: an embedded cluster's coordinator, slots and evaluation share one copy.</summary>
    private static readonly Dictionary<string, WeakReference<ImageClassSet>> Loaded = [];

    /// <summary>
    /// The three split files read and every row resolved to a file: class names (train's, val's, test's, each sorted),
    /// their image counts, the images in that order, and the class count of each split.
    /// </summary>
    private static (List<string> Classes, List<int> Counts, List<MiniImageNetImage> Images, int[] SplitSizes) Resolve(string dataDir, string? csvDir)
    {
        if (!new[] { ImagesFolder, "train", "val", "test" }.Any(d => Directory.Exists(Path.Combine(dataDir, d))))
            throw new DirectoryNotFoundException(
                $"mini-ImageNet images folder not found: {Path.GetFullPath(Path.Combine(dataDir, ImagesFolder))}. {DownloadHint}");
        string splitDir = csvDir ?? dataDir;
        if (!Directory.Exists(splitDir))
            throw new DirectoryNotFoundException($"mini-ImageNet split folder not found: {Path.GetFullPath(splitDir)} (--split-csv); it should hold {string.Join(", ", SplitFiles)}.");

        var classes = new List<string>();
        var counts = new List<int>();
        var images = new List<MiniImageNetImage>();
        var splitSizes = new int[SplitFiles.Length];
        var splitOfClass = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int s = 0; s < SplitFiles.Length; s++)
        {
            string csv = Path.Combine(splitDir, SplitFiles[s]);
            var byClass = MiniImageNetCsv.Read(csv).GroupBy(r => r.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal);
            foreach (var group in byClass)
            {
                if (splitOfClass.TryGetValue(group.Key, out string? other))
                    throw new InvalidDataException(
                        $"class {group.Key} is listed in both {other} and {SplitFiles[s]}; the splits must not share classes.");
                splitOfClass[group.Key] = SplitFiles[s];
                classes.Add(group.Key);
                counts.Add(group.Count());
                foreach (var row in group.OrderBy(r => r.FileName, StringComparer.Ordinal))
                    images.Add(new MiniImageNetImage(row, Locate(dataDir, row)));
            }
            splitSizes[s] = byClass.Count();
        }
        return (classes, counts, images, splitSizes);
    }

    /// <summary>
    /// images/&lt;file&gt; (images.zip unpacked: one flat folder), else images/&lt;label&gt;/&lt;file&gt; (mirrors that keep one
    /// folder a class), else &lt;split&gt;/&lt;label&gt;/&lt;file&gt; (the layout cbfinn/maml's proc_images.py leaves behind).
    /// </summary>
    private static string Locate(string dataDir, MiniImageNetRow row)
    {
        string split = Path.GetFileNameWithoutExtension(row.Csv);
        string[] candidates =
        [
            Path.Combine(dataDir, ImagesFolder, row.FileName),
            Path.Combine(dataDir, ImagesFolder, row.Label, row.FileName),
            Path.Combine(dataDir, split, row.Label, row.FileName),
        ];
        string path = candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(
            $"{row.Csv} line {row.Line} lists {row.FileName} (class {row.Label}) but it is in none of {string.Join(", ", candidates)}; " +
            "copy the image there, or point --data at the folder that holds it.", candidates[0]);
        if (!ImageFolder.IsImage(path))
            throw new InvalidDataException(
                $"{row.Csv} line {row.Line} lists {row.FileName}, which is not an image file (expected an image such as .jpg or .png); fix the row.");
        return path;
    }

    /// <summary>
    /// SHA-256 over the format version, the image size, the split files' bytes and every listed image's relative path and
    /// size: an edited split file, or an image added, removed or replaced by one of another size, makes a new cache.
    /// (Sizes, not contents: hashing 60,000 JPEGs would cost much of what the cache saves.)
    /// </summary>
    private static byte[] Key(string splitDir, IReadOnlyList<MiniImageNetImage> images, int size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"mini-imagenet-cache v{MiniImageNetCache.FormatVersion} size {size}x{size}\n"));
        foreach (string file in SplitFiles)
            hash.AppendData(Encoding.UTF8.GetBytes($"{file} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(splitDir, file))))}\n"));
        foreach (var image in images)
            hash.AppendData(Encoding.UTF8.GetBytes($"{image.Row.Label}/{image.Row.FileName} {new FileInfo(image.Path).Length}\n"));
        return hash.GetHashAndReset();
    }
}
