using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;
using TorchSharp;

namespace MetaCluster.Core.Tests;

public sealed class MiniImageNetTests : IDisposable
{
    private readonly TinyMiniImageNet _data = new();

    public void Dispose() => _data.Dispose();

    /// <summary>Every load decodes afresh unless a test asks for the cache: tests must not see each other's files.</summary>
    private MiniImageNetDataset Load(MiniImageNetOptions? options = null) =>
        MiniImageNetDataset.Load(_data.Dir, options ?? new MiniImageNetOptions { UseCache = false, ReuseLoaded = false });

    private static float[] Values(torch.Tensor t) => t.contiguous().data<float>().ToArray();

    /// <summary>The class (0..11) and image of an episode image, read back from its red and green planes; asserts blue is the column.</summary>
    private static (int Class, int Image) Identify(ReadOnlySpan<float> image)
    {
        const int plane = TinyMiniImageNet.Size * TinyMiniImageNet.Size;
        int k = (int)MathF.Round(image[0] * 255 - 20) / 10, i = (int)MathF.Round(image[plane] * 255) / 5;
        var expected = new float[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            expected[p] = TinyMiniImageNet.Red(k) / 255f;
            expected[plane + p] = TinyMiniImageNet.Green(i) / 255f;
            expected[2 * plane + p] = (k == TinyMiniImageNet.ResizedClass ? TinyMiniImageNet.ResizedBlue : p % TinyMiniImageNet.Size) / 255f;
        }
        // One comparison, not one assertion a value: red and green planes are constant, blue is the column index.
        Assert.True(image.SequenceEqual(expected), $"image {i} of class {k} does not hold the generated values plane for plane");
        return (k, i);
    }

    [Fact]
    public void Splits_AreTheCsvsClasses_AndEpisodesAreRgbNchwWithClassMajorLabels()
    {
        var mini = Load();
        Assert.Equal((6, 3, 3), (mini.Train.ClassCount, mini.Validation.ClassCount, mini.Test.ClassCount));
        Assert.Equal(Enumerable.Range(0, 12).Select(TinyMiniImageNet.Label), mini.Images.ClassNames);
        Assert.Equal([3L, 84, 84], mini.Train.InputShape);

        foreach (var (source, classes) in new[] { (mini.Train, 0..6), (mini.Validation, 6..9), (mini.Test, 9..12) })
        {
            var spec = new EpisodeSpec(3, 2, 4);
            using var episode = source.Sample(spec, 0, 17);
            Assert.Equal([6L, 3, 84, 84], episode.SupportX.shape);
            Assert.Equal([12L, 3, 84, 84], episode.QueryX.shape);
            Assert.Equal([0L, 0, 1, 1, 2, 2], episode.SupportY.data<long>().ToArray());
            Assert.Equal([0L, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], episode.QueryY.data<long>().ToArray());

            float[] support = Values(episode.SupportX), query = Values(episode.QueryX);
            int size = 3 * 84 * 84;
            var classOfLabel = new int[3];
            var seen = new HashSet<(int, int)>();
            for (int n = 0; n < 18; n++)
            {
                bool isSupport = n < 6;
                int label = isSupport ? n / 2 : (n - 6) / 4;
                var (k, i) = Identify((isSupport ? support : query).AsSpan((isSupport ? n : n - 6) * size, size));
                Assert.InRange(k, classes.Start.Value, classes.End.Value - 1);
                if (n % 2 == 0 && isSupport) classOfLabel[label] = k;
                Assert.Equal(classOfLabel[label], k);
                Assert.True(seen.Add((k, i)), $"image {i} of class {k} drawn twice in one episode");
            }
            Assert.Equal(3, classOfLabel.Distinct().Count());
        }
    }

    [Fact]
    public void SameSeedGivesTheSameBits_AnotherSeedAnotherEpisode()
    {
        var spec = new EpisodeSpec(5, 1, 3);
        var a = Load().Train;
        var b = Load().Train;
        using var first = a.Sample(spec, 3, 99);
        using var again = b.Sample(spec, 3, 99);
        using var other = a.Sample(spec, 3, 100);
        Assert.Equal(Values(first.SupportX), Values(again.SupportX));
        Assert.Equal(Values(first.QueryX), Values(again.QueryX));
        Assert.Equal(first.QueryY.data<long>().ToArray(), again.QueryY.data<long>().ToArray());
        Assert.NotEqual(Values(first.SupportX).Concat(Values(first.QueryX)), Values(other.SupportX).Concat(Values(other.QueryX)));
    }

    [Fact]
    public void ResizedImagesKeepAConstantColourExactly()
    {
        // 96×90 → 84×84: a constant image stays constant under the normalised antialiased kernel (then rounded to 8 bits).
        var set = Load().Images;
        var image = new float[set.ValuesPerImage];
        set.CopyImage(TinyMiniImageNet.ResizedClass, 3, image);
        Assert.Equal((TinyMiniImageNet.ResizedClass, 3), Identify(image));
    }

    [Fact]
    public void Cache_RoundTripEqualsAFreshDecode_AndAChangedCsvRebuildsIt()
    {
        var options = new MiniImageNetOptions { CacheDirectory = _data.CacheDir, ReuseLoaded = false };
        var fresh = Load();
        var first = MiniImageNetDataset.Load(_data.Dir, options);
        Assert.False(first.CacheHit);
        Assert.True(File.Exists(first.CachePath));
        var second = MiniImageNetDataset.Load(_data.Dir, options);
        Assert.True(second.CacheHit);
        Assert.Equal(second.CachePath, first.CachePath);
        Assert.Equal(fresh.Images.Bytes, second.Images.Bytes);
        Assert.Equal(fresh.Images.ClassNames, second.Images.ClassNames);
        Assert.Equal(Enumerable.Range(0, 12).Select(fresh.Images.ImageCount), Enumerable.Range(0, 12).Select(second.Images.ImageCount));

        // One row fewer in train.csv: another key, decoded again, and the class has one image fewer.
        string train = Path.Combine(_data.Dir, "train.csv");
        File.WriteAllLines(train, File.ReadAllLines(train)[..^1]);
        var changed = MiniImageNetDataset.Load(_data.Dir, options);
        Assert.False(changed.CacheHit);
        Assert.NotEqual(first.CachePath, changed.CachePath);
        Assert.Equal(TinyMiniImageNet.PerClass - 1, changed.Images.ImageCount(5));
        Assert.True(MiniImageNetDataset.Load(_data.Dir, options).CacheHit);

        // A damaged cache file is a miss, rebuilt with the same bytes.
        byte[] bytes = File.ReadAllBytes(changed.CachePath!);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(changed.CachePath!, bytes);
        var rebuilt = MiniImageNetDataset.Load(_data.Dir, options);
        Assert.False(rebuilt.CacheHit);
        Assert.Equal(changed.Images.Bytes, rebuilt.Images.Bytes);
        Assert.Empty(Directory.GetFiles(_data.CacheDir, "*.tmp"));
    }

    [Fact]
    public void SplitCsvFolder_CanBeElsewhere_AndImagesMayBeInProcImagesSplitFolders()
    {
        // cbfinn/maml's proc_images.py moves each image to <split>/<label>/<file>: read it where it is, same bytes.
        byte[] flat = Load().Images.Bytes!;
        foreach (string row in File.ReadAllLines(Path.Combine(_data.Dir, "train.csv")).Skip(1))
        {
            string[] fields = row.Split(',');
            string target = Path.Combine(_data.Dir, "train", fields[1], fields[0]);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(Path.Combine(_data.Dir, "images", fields[0]), target);
        }
        Assert.Equal(flat, Load().Images.Bytes);

        string csvDir = Path.Combine(_data.Dir, "splits");
        Directory.CreateDirectory(csvDir);
        foreach (string csv in MiniImageNetDataset.SplitFiles) File.Move(Path.Combine(_data.Dir, csv), Path.Combine(csvDir, csv));
        var error = Assert.Throws<FileNotFoundException>(() => Load());
        Assert.Contains("train.csv", error.Message);
        Assert.Contains("github.com/twitter/meta-learning-lstm", error.Message);
        var mini = Load(new MiniImageNetOptions { SplitCsvDirectory = csvDir, UseCache = false, ReuseLoaded = false });
        Assert.Equal(6, mini.Train.ClassCount);
    }

    [Fact]
    public void Errors_NameTheFileTheLineOrTheClass()
    {
        string test = Path.Combine(_data.Dir, "test.csv");
        string[] original = File.ReadAllLines(test);

        // A row whose image is missing: the file, the CSV and its line.
        File.WriteAllLines(test, [.. original, "n0999999900000001.jpg,n09999999"]);
        var missing = Assert.Throws<FileNotFoundException>(() => Load());
        Assert.Contains("n0999999900000001.jpg", missing.Message);
        Assert.Contains(Path.Combine("images", "n0999999900000001.jpg"), missing.Message);
        Assert.Contains($"test.csv line {original.Length + 1}", missing.Message);

        // A row naming a file that is not an image.
        File.WriteAllText(Path.Combine(_data.Dir, "images", "notes.txt"), "not a picture");
        File.WriteAllLines(test, [.. original, "notes.txt,n09999999"]);
        Assert.Contains($"test.csv line {original.Length + 1} lists notes.txt, which is not an image", Assert.Throws<InvalidDataException>(() => Load()).Message);

        // An image file that does not decode.
        File.WriteAllBytes(Path.Combine(_data.Dir, "images", "broken.jpg"), [1, 2, 3, 4, 5]);
        File.WriteAllLines(test, [.. original, "broken.jpg,n09999999"]);
        var broken = Assert.Throws<InvalidDataException>(() => Load());
        Assert.Contains("cannot decode image", broken.Message);
        Assert.Contains("broken.jpg", broken.Message);
        Assert.Contains($"line {original.Length + 1}", broken.Message);

        // A malformed row, and a class listed in two splits.
        File.WriteAllLines(test, [.. original, "just-one-field"]);
        Assert.Contains($"test.csv line {original.Length + 1}: expected 'filename,label'", Assert.Throws<InvalidDataException>(() => Load()).Message);
        File.WriteAllLines(test, [.. original, original[1].Split(',')[0] + "," + TinyMiniImageNet.Label(0)]);
        Assert.Contains($"class {TinyMiniImageNet.Label(0)} is listed in both train.csv and test.csv", Assert.Throws<InvalidDataException>(() => Load()).Message);

        // A missing split file.
        File.WriteAllLines(test, original);
        File.Delete(Path.Combine(_data.Dir, "val.csv"));
        var noCsv = Assert.Throws<FileNotFoundException>(() => Load());
        Assert.Contains("val.csv", noCsv.Message);
    }

    [Fact]
    public void AClassWithTooFewImagesForTheEpisodesIsNamed()
    {
        // Keep 3 images of the last train class: 1 shot + 5 queries cannot be drawn from it.
        string train = Path.Combine(_data.Dir, "train.csv");
        var lines = File.ReadAllLines(train);
        File.WriteAllLines(train, lines[..^(TinyMiniImageNet.PerClass - 3)]);
        var error = Assert.Throws<ArgumentException>(() => Load().Train.Validate(new EpisodeSpec(5, 1, 5)));
        Assert.Contains($"class '{TinyMiniImageNet.Label(5)}' in mini-imagenet/train", error.Message);
        Assert.Contains("has 3", error.Message);
    }

    [Fact]
    public void PublishedSettings_AndTheModelTheyBuild()
    {
        var maml = TrainingConfig.ForDataset("mini-imagenet", "maml");
        Assert.Equal((5, 1, 15, 4, 0.01, 5, 10, 0.001, "adam", 32, "ravi"),
            (maml.Ways, maml.Shots, maml.Queries, maml.MetaBatch, maml.InnerLr, maml.InnerSteps, maml.EvalSteps, maml.OuterLr, maml.OuterOptimizer, maml.Filters, maml.Split));
        var fiveShot = TrainingConfig.ForDataset("mini-imagenet", "maml", shots: 5);
        Assert.Equal((5, 2), (fiveShot.Shots, fiveShot.MetaBatch));
        Assert.Equal(64, TrainingConfig.ForDataset("mini-imagenet", "protonet").Filters);
        Assert.Equal(8, TrainingConfig.ForDataset("mini-imagenet", "reptile").InnerSteps);

        // Conv4 over 3×84×84 with 32 filters: 84 → 42 → 21 → 10 → 5, so the head sees 32·5·5 = 800 features.
        var model = Assert.IsType<Conv4>(RunFactory.CreateBlueprint(maml with { DataDir = _data.Dir }).Model);
        Assert.Equal(800, model.FeatureCount);
        Assert.Equal([32L, 3, 3, 3], model.Layout.Parameters[0].Shape);
        // Filters = 0 (every config from before the setting) builds Omniglot's 64-filter Conv4 as before.
        var omniglot = Assert.IsType<Conv4>(RunFactory.CreateBlueprint(TrainingConfig.ForDataset("omniglot", "maml") with { DataDir = "unused" }).Model);
        Assert.Equal(new Conv4(5).Layout.TotalCount, omniglot.Layout.TotalCount);
        Assert.DoesNotContain("filters", System.Text.Json.JsonSerializer.Serialize(TrainingConfig.ForDataset("omniglot", "maml")), StringComparison.OrdinalIgnoreCase);

        Assert.Contains("--split ravi", Assert.Throws<ArgumentException>(() => (maml with { Split = "lake" }).Validate()).Message);
        Assert.Contains("val.csv", Assert.Throws<ArgumentException>(() => (maml with { ValidationClasses = 4 }).Validate()).Message);
    }
}
