using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Tests;

public sealed class OmniglotTests : IDisposable
{
    private readonly TinyOmniglot _data = new();
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "mc-omniglot-scratch-" + Guid.NewGuid().ToString("N"));

    public OmniglotTests() => Directory.CreateDirectory(_scratch);

    public void Dispose()
    {
        _data.Dispose();
        try { Directory.Delete(_scratch, recursive: true); } catch (IOException) { }
    }

    private OmniglotDataset Load(OmniglotOptions options) => OmniglotDataset.Load(_data.Dir, options with { UseCache = false });

    private static HashSet<int> BaseClasses(ClassEpisodeSource source) => source.Views.Select(v => v.BaseClass).ToHashSet();

    [Fact]
    public void Archive_SortsClassesByPathAndImagesByFileName()
    {
        var set = OmniglotArchive.Read(OmniglotArchive.ZipPaths(_data.Dir));
        Assert.Equal(TinyOmniglot.Classes, set.ClassNames);
        Assert.Equal((28, 28), (set.Height, set.Width));
        for (int c = 0; c < set.ClassCount; c++)
        {
            Assert.Equal(TinyOmniglot.Drawings, set.ImageCount(c));
            for (int d = 0; d < TinyOmniglot.Drawings; d++)
            {
                var image = set.Image(c, d);
                Assert.Equal((c, d), TinyOmniglot.Identify(image, 28));
                foreach (float v in image) Assert.InRange(v, 0f, 1f);
            }
        }
    }

    [Fact]
    public void Archive_AllInkImageBecomesOnesAndBlankImageZeros()
    {
        string zip = Path.Combine(_scratch, "images_background.zip");
        TinyOmniglot.WriteZip(zip,
        [
            ("images_background/A/character01/0001_01.png", TestPng.Encode(new byte[105 * 105], 105, 105, bitDepth: 1)),
            ("images_background/A/character01/0001_02.png", TestPng.Encode(Enumerable.Repeat((byte)255, 105 * 105).ToArray(), 105, 105, bitDepth: 1)),
        ]);
        var set = OmniglotArchive.Read([zip]);
        Assert.All(set.Image(0, 0).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(set.Image(0, 1).ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ClassCounts_RotationMultipliesEverySplitByFour()
    {
        var plain = Load(new OmniglotOptions { TrainCharacters = 5 });
        Assert.Equal((5, 3), (plain.Train.ClassCount, plain.Test.ClassCount));
        Assert.Null(plain.Validation);

        var rotated = Load(new OmniglotOptions { TrainCharacters = 5, Rotate = true });
        Assert.Equal((20, 12), (rotated.Train.ClassCount, rotated.Test.ClassCount));
        // The four rotations of a character stay together in one split.
        Assert.Equal(BaseClasses(plain.Train), BaseClasses(rotated.Train));
        Assert.All(rotated.Train.Views.GroupBy(v => v.BaseClass), g => Assert.Equal([0, 1, 2, 3], g.Select(v => v.QuarterTurns).Order()));
        Assert.Equal(new[] { 1, 1, 1, 1 }, new[] { 0, 1, 2, 3 }.Select(q => rotated.Train.Views.Count(v => v.QuarterTurns == q) / 5));
    }

    [Fact]
    public void MamlSplit_IsAFixedPermutationOfTheSplitSeed()
    {
        var a = Load(new OmniglotOptions { TrainCharacters = 5, SplitSeed = 0 });
        var b = Load(new OmniglotOptions { TrainCharacters = 5, SplitSeed = 0 });
        Assert.Equal(a.Train.Views, b.Train.Views);
        Assert.Equal(a.Test.Views, b.Test.Views);

        var train = BaseClasses(a.Train);
        var test = BaseClasses(a.Test);
        Assert.Empty(train.Intersect(test));
        Assert.Equal(Enumerable.Range(0, 8), train.Union(test).Order());

        var others = Enumerable.Range(1, 5).Select(s => BaseClasses(Load(new OmniglotOptions { TrainCharacters = 5, SplitSeed = (ulong)s }).Train));
        Assert.Contains(others, o => !o.SetEquals(train));
    }

    [Fact]
    public void MamlSplit_ValidationIsCarvedFromTrainWithoutMovingTest()
    {
        var without = Load(new OmniglotOptions { TrainCharacters = 5 });
        var with = Load(new OmniglotOptions { TrainCharacters = 5, ValidationCharacters = 2 });
        Assert.NotNull(with.Validation);
        Assert.Equal((3, 2, 3), (with.Train.ClassCount, with.Validation.ClassCount, with.Test.ClassCount));
        Assert.Equal(BaseClasses(without.Test), BaseClasses(with.Test));
        Assert.Equal(BaseClasses(without.Train), BaseClasses(with.Train).Union(BaseClasses(with.Validation)).ToHashSet());
        Assert.Empty(BaseClasses(with.Train).Intersect(BaseClasses(with.Validation)));
    }

    [Fact]
    public void LakeSplit_BackgroundIsTrainAndEvaluationIsTest()
    {
        var lake = Load(new OmniglotOptions { Split = OmniglotSplit.Lake });
        Assert.Equal([0, 1, 2, 3, 4, 5], BaseClasses(lake.Train).Order());
        Assert.Equal([6, 7], BaseClasses(lake.Test).Order());
        Assert.All(BaseClasses(lake.Train), c => Assert.StartsWith("images_background/", lake.Characters.ClassNames[c]));
        Assert.Contains("lake-train", lake.Train.Name);
    }

    [Fact]
    public void MamlSplit_MoreTrainCharactersThanTheDataHas_SaysHowToFixIt()
    {
        var e = Assert.Throws<ArgumentException>(() => Load(new OmniglotOptions()));
        Assert.Contains("1200", e.Message);
        Assert.Contains("has 8", e.Message);
    }

    [Fact]
    public void LoadsInOneProcessShareThePixels_UntilTheZipsChange()
    {
        var options = new OmniglotOptions { TrainCharacters = 5, CacheDirectory = Path.Combine(_scratch, "shared-cache") };
        var first = OmniglotDataset.Load(_data.Dir, options);
        var second = OmniglotDataset.Load(_data.Dir, options with { Rotate = true });
        Assert.Same(first.Characters, second.Characters);          // one copy of the pixels, split two ways
        Assert.Equal(4 * first.Train.Views.Count, second.Train.Views.Count);
        Assert.NotSame(first.Characters, OmniglotDataset.Load(_data.Dir, options with { ImageSize = 14 }).Characters);

        // A zip that changes on disk is decoded again.
        string zip = Path.Combine(_data.Dir, "images_background.zip");
        File.SetLastWriteTimeUtc(zip, File.GetLastWriteTimeUtc(zip).AddMinutes(1));
        Assert.NotSame(first.Characters, OmniglotDataset.Load(_data.Dir, options).Characters);
    }

    [Fact]
    public void Cache_SecondLoadHitsWithIdenticalPixels_AndADamagedFileIsRebuilt()
    {
        // Every load reads the cache file (not the pixels this process already holds).
        var options = new OmniglotOptions { TrainCharacters = 5, CacheDirectory = Path.Combine(_scratch, "cache"), ReuseLoaded = false };
        var first = OmniglotDataset.Load(_data.Dir, options);
        Assert.False(first.CacheHit);
        Assert.True(File.Exists(first.CachePath));
        Assert.StartsWith(options.CacheDirectory, first.CachePath);

        var second = OmniglotDataset.Load(_data.Dir, options);
        Assert.True(second.CacheHit);
        Assert.Equal(first.Characters.Pixels, second.Characters.Pixels);
        Assert.Equal(first.Characters.ClassNames, second.Characters.ClassNames);
        Assert.Equal(first.Train.Views, second.Train.Views);

        // One flipped bit in the pixels: the checksum catches it, the cache is rebuilt, the pixels are unchanged.
        byte[] bytes = File.ReadAllBytes(first.CachePath!);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(first.CachePath!, bytes);
        var afterFlip = OmniglotDataset.Load(_data.Dir, options);
        Assert.False(afterFlip.CacheHit);
        Assert.Equal(first.Characters.Pixels, afterFlip.Characters.Pixels);
        Assert.True(OmniglotDataset.Load(_data.Dir, options).CacheHit);

        // Truncated (e.g. a crash mid-copy): also rebuilt.
        File.WriteAllBytes(first.CachePath!, bytes[..(bytes.Length - 100)]);
        var afterTruncate = OmniglotDataset.Load(_data.Dir, options);
        Assert.False(afterTruncate.CacheHit);
        Assert.Equal(first.Characters.Pixels, afterTruncate.Characters.Pixels);
        Assert.True(OmniglotDataset.Load(_data.Dir, options).CacheHit);
        Assert.Empty(Directory.GetFiles(options.CacheDirectory, "*.tmp"));
    }

    [Fact]
    public void Cache_DifferentZipsUseADifferentEntry()
    {
        var options = new OmniglotOptions { TrainCharacters = 5, CacheDirectory = Path.Combine(_scratch, "cache") };
        var first = OmniglotDataset.Load(_data.Dir, options);
        using var other = new TinyOmniglot();
        string zip = Path.Combine(other.Dir, OmniglotArchive.EvaluationZip);
        TinyOmniglot.WriteZip(zip, [("images_evaluation/Zeta/character01/0007_01.png", TestPng.Encode(TinyOmniglot.Square(0, 0), 105, 105, 1)),
                                    ("images_evaluation/Zeta/character01/0007_02.png", TestPng.Encode(TinyOmniglot.Square(0, 1), 105, 105, 1))]);
        var second = OmniglotDataset.Load(other.Dir, options);
        Assert.False(second.CacheHit);
        Assert.NotEqual(first.CachePath, second.CachePath);
        Assert.Equal(7, second.Characters.ClassCount);
    }

    [Fact]
    public void MissingZip_NamesThePathAndWhereTheZipsComeFrom()
    {
        var e = Assert.Throws<FileNotFoundException>(() => OmniglotDataset.Load(_scratch, new OmniglotOptions { UseCache = false }));
        Assert.Contains(Path.Combine(_scratch, "images_background.zip"), e.Message);
        Assert.Contains("github.com/brendenlake/omniglot", e.Message);
        Assert.Contains("--data", e.Message);
    }

    [Fact]
    public void CorruptZip_NamesTheZip()
    {
        string zip = Path.Combine(_data.Dir, OmniglotArchive.BackgroundZip);
        File.WriteAllBytes(zip, Enumerable.Range(0, 5000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => Load(new OmniglotOptions { TrainCharacters = 1 }));
        Assert.Contains(zip, e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void UndecodablePng_NamesTheZipAndTheEntry()
    {
        string zip = Path.Combine(_data.Dir, OmniglotArchive.BackgroundZip);
        TinyOmniglot.WriteZip(zip,
        [
            ("images_background/A/character01/0001_01.png", TestPng.Encode(TinyOmniglot.Square(0, 0), 105, 105, 1)),
            ("images_background/A/character01/0001_02.png", "not a png at all"u8.ToArray()),
        ]);
        var e = Assert.Throws<InvalidDataException>(() => Load(new OmniglotOptions { TrainCharacters = 1 }));
        Assert.Contains("images_background/A/character01/0001_02.png", e.Message);
        Assert.Contains(zip, e.Message);
    }

    [Fact]
    public void ZipWithoutTheExpectedLayout_SaysWhatLayoutItExpected()
    {
        string zip = Path.Combine(_data.Dir, OmniglotArchive.EvaluationZip);
        TinyOmniglot.WriteZip(zip, [("readme.txt", "hello"u8.ToArray()), ("flat/0001_01.png", TestPng.Encode(TinyOmniglot.Square(0, 0), 105, 105, 1))]);
        var e = Assert.Throws<InvalidDataException>(() => Load(new OmniglotOptions { TrainCharacters = 1 }));
        Assert.Contains(zip, e.Message);
        Assert.Contains("expected layout", e.Message);
    }
}
