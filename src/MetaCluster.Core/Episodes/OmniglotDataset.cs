using System.Diagnostics;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// Omniglot as episode sources: the characters of both zips (background first, each sorted by path), divided
/// into train / validation / test by <see cref="OmniglotOptions"/>. Splits are over characters, so rotations of
/// one character never straddle two splits.
/// </summary>
public sealed class OmniglotDataset
{
    private const string BackgroundPrefix = "images_background/", EvaluationPrefix = "images_evaluation/";

    private OmniglotDataset(ImageClassSet characters, OmniglotOptions options, ClassEpisodeSource train,
        ClassEpisodeSource? validation, ClassEpisodeSource test)
    {
        Characters = characters;
        Options = options;
        Train = train;
        Validation = validation;
        Test = test;
    }

    /// <summary>Every character of both zips, one class each, unrotated.</summary>
    public ImageClassSet Characters { get; }
    public OmniglotOptions Options { get; }
    public ClassEpisodeSource Train { get; }
    public ClassEpisodeSource? Validation { get; }
    public ClassEpisodeSource Test { get; }

    /// <summary>Wall time of <see cref="Load"/>: hashing, then reading the cache or decoding the zips, then splitting.</summary>
    public TimeSpan LoadTime { get; private init; }
    /// <summary>True when the pixels came from the cache rather than from decoding the zips.</summary>
    public bool CacheHit { get; private init; }
    /// <summary>The cache file read or written; null when the cache is off.</summary>
    public string? CachePath { get; private init; }

    /// <summary>Loads <c>images_background.zip</c> and <c>images_evaluation.zip</c> from <paramref name="dataDir"/> and splits them.</summary>
    public static OmniglotDataset Load(string dataDir, OmniglotOptions? options = null)
    {
        options ??= new OmniglotOptions();
        var clock = Stopwatch.StartNew();
        string[] zips = OmniglotArchive.ZipPaths(dataDir);
        string? cachePath = null;
        bool hit = false;
        string key = LoadedKey(zips, options);
        ImageClassSet? characters;
        lock (Loaded)
        {
            if (options.ReuseLoaded && Loaded.TryGetValue(key, out var loaded) && loaded.Characters.TryGetTarget(out characters))
            {
                (cachePath, hit) = (loaded.CachePath, true);
            }
            else
            {
                characters = options.UseCache
                    ? OmniglotCache.Load(zips, options.ImageSize, options.CacheDirectory, out cachePath, out hit)
                    : OmniglotArchive.Read(zips, options.ImageSize);
                Loaded[key] = (new WeakReference<ImageClassSet>(characters), cachePath);
            }
        }
        var dataset = Split(characters, options);
        return new OmniglotDataset(characters, options, dataset.Train, dataset.Validation, dataset.Test)
        {
            LoadTime = clock.Elapsed,
            CacheHit = hit,
            CachePath = cachePath,
        };
    }

    /// <summary>
    /// The pixels each set of zips decoded to, while anything still uses them. An embedded cluster builds the run in the
    /// coordinator, in every worker slot and for the final evaluation — all in one process — so they share one
    /// decoded copy of Omniglot rather than one each (the splits are views over it, and nothing writes to it).
    /// </summary>
    private static readonly Dictionary<string, (WeakReference<ImageClassSet> Characters, string? CachePath)> Loaded = [];

    /// <summary>Which zips (path, size, time) at which image size: a changed file is decoded again.</summary>
    private static string LoadedKey(string[] zips, OmniglotOptions options) =>
        string.Join('|', zips.Select(z => new FileInfo(z)).Select(f => $"{f.FullName}:{f.Length}:{f.LastWriteTimeUtc.Ticks}"))
        + $"|{options.ImageSize}|{options.UseCache}";

    /// <summary>Splits characters already in memory (class names must start with images_background/ or images_evaluation/ for the Lake split).</summary>
    public static OmniglotDataset Split(ImageClassSet characters, OmniglotOptions? options = null)
    {
        options ??= new OmniglotOptions();
        int total = characters.ClassCount;
        List<int> train, test;
        if (options.Split == OmniglotSplit.Maml)
        {
            int t = options.TrainCharacters;
            if (t < 1 || t >= total)
                throw new ArgumentException(
                    $"the MAML split puts {t} characters in train but the data has {total}, leaving none for test; " +
                    $"set the train character count between 1 and {total - 1}.");
            int[] order = new DeterministicRandom(options.SplitSeed).SampleWithoutReplacement(total, total);
            train = [.. order[..t]];
            test = [.. order[t..]];
        }
        else
        {
            train = [.. Enumerable.Range(0, total).Where(c => characters.ClassNames[c].StartsWith(BackgroundPrefix, StringComparison.Ordinal))];
            test = [.. Enumerable.Range(0, total).Where(c => characters.ClassNames[c].StartsWith(EvaluationPrefix, StringComparison.Ordinal))];
            if (train.Count == 0 || test.Count == 0)
                throw new ArgumentException(
                    $"Lake's split needs characters from both {OmniglotArchive.BackgroundZip} and {OmniglotArchive.EvaluationZip} " +
                    $"but found {train.Count} background and {test.Count} evaluation characters.");
        }

        List<int>? validation = null;
        int v = options.ValidationCharacters;
        if (v < 0 || v >= train.Count)
            throw new ArgumentException(
                $"{v} validation characters cannot be carved from {train.Count} train characters; use 0..{train.Count - 1}.");
        if (v > 0)
        {
            // A stream of its own, so changing the validation size does not reshuffle the train/test split.
            var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(options.SplitSeed, 1));
            var picked = rng.SampleWithoutReplacement(train.Count, v).Select(i => train[i]).ToHashSet();
            validation = [.. train.Where(picked.Contains)];
            train = [.. train.Where(c => !picked.Contains(c))];
        }

        string split = options.Split == OmniglotSplit.Maml ? "maml" : "lake";
        ClassEpisodeSource Source(List<int> classes, string part)
        {
            classes.Sort();
            var views = ClassView.For(classes, options.Rotate);
            return new ClassEpisodeSource(characters, views, $"omniglot/{split}-{part} ({views.Count} classes)");
        }
        return new OmniglotDataset(characters, options, Source(train, "train"),
            validation is null ? null : Source(validation, "validation"), Source(test, "test"));
    }

    /// <summary>One line for logs, e.g. "omniglot maml split: train 4800, test 1692 classes; 0.41 s (cache hit)".</summary>
    public string Describe()
    {
        string validation = Validation is null ? "" : $", validation {Validation.ClassCount}";
        string source = CachePath is null ? "decoded, no cache" : CacheHit ? $"cache hit {CachePath}" : $"decoded, cached to {CachePath}";
        return $"omniglot {Options.Split.ToString().ToLowerInvariant()} split{(Options.Rotate ? " with rotations" : "")}: " +
               $"train {Train.ClassCount}{validation}, test {Test.ClassCount} classes; loaded in {LoadTime.TotalSeconds:F2} s ({source})";
    }
}
