using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Tests;

public sealed class ImageFolderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mc-folder-" + Guid.NewGuid().ToString("N"));

    public ImageFolderTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>8-bit gray PNG, white, with a dark square at block (row, col) of a 4×4 grid.</summary>
    private static byte[] Png(int size, int row, int col, byte ink = 0)
    {
        var gray = Enumerable.Repeat((byte)255, size * size).ToArray();
        int block = size / 4;
        for (int r = row * block; r < (row + 1) * block; r++)
            for (int c = col * block; c < (col + 1) * block; c++)
                gray[r * size + c] = ink;
        return TestPng.Encode(gray, size, size);
    }

    private void Write(string relative, byte[] bytes)
    {
        string path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void Folder_ClassesAreSortedSubFolders_ImagesResizedAndInvertedWhenMostlyWhite()
    {
        // Class k's images have their square in grid row k; image i in column i. Mixed sizes get the same resize.
        foreach (var (name, k) in new[] { ("zebra", 2), ("ant", 0), ("cat", 1) })
            for (int i = 0; i < 3; i++)
                Write($"{name}/{i:00}.png", Png(i == 1 ? 56 : 112, k, i));
        Write("cat/notes.txt", "ignored"u8.ToArray());

        var set = ImageFolder.Load(_dir);
        Assert.Equal(["ant", "cat", "zebra"], set.ClassNames);
        Assert.Equal((28, 28), (set.Height, set.Width));
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(3, set.ImageCount(k));
            for (int i = 0; i < 3; i++)
            {
                var image = set.Image(k, i);
                // Squares sit on the 7-pixel grid exactly, so the area resize keeps them crisp: ink 1 inside, 0 outside.
                for (int r = 0; r < 28; r++)
                    for (int c = 0; c < 28; c++)
                        Assert.Equal(r / 7 == k && c / 7 == i ? 1f : 0f, image[r * 28 + c]);
            }
        }

        var source = ImageFolder.OpenSource(_dir, new ImageFolderOptions { Rotate = true });
        Assert.Equal(12, source.ClassCount);
        using var e = source.Sample(new EpisodeSpec(3, 2, 1), 0, 5);
        Assert.Equal([6L, 1, 28, 28], e.SupportX.shape);
    }

    [Fact]
    public void Folder_AllBlackBecomesOnesAndAllWhiteZeros_WhenInverted()
    {
        Write("a/black.png", TestPng.Encode(new byte[105 * 105], 105, 105));
        Write("a/white.png", TestPng.Encode(Enumerable.Repeat((byte)255, 105 * 105).ToArray(), 105, 105));
        var set = ImageFolder.Load(_dir, new ImageFolderOptions { Invert = InvertMode.Always });
        Assert.All(set.Image(0, 0).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(set.Image(0, 1).ToArray(), v => Assert.Equal(0f, v));

        var raw = ImageFolder.Load(_dir, new ImageFolderOptions { Invert = InvertMode.Never, Height = 10, Width = 12 });
        Assert.Equal((10, 12), (raw.Height, raw.Width));
        Assert.All(raw.Image(0, 0).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(raw.Image(0, 1).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void Folder_Empty_SaysItNeedsClassSubFolders()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageFolder.Load(_dir));
        Assert.Contains(_dir, e.Message);
        Assert.Contains("no class sub-folders", e.Message);
    }

    [Fact]
    public void Folder_ImagesWithoutSubFolders_SaysWhereTheyShouldGo()
    {
        Write("01.png", Png(28, 0, 0));
        var e = Assert.Throws<ArgumentException>(() => ImageFolder.Load(_dir));
        Assert.Contains("directly in it", e.Message);
    }

    [Fact]
    public void Folder_ClassWithoutImages_NamesTheClassFolder()
    {
        Write("a/01.png", Png(28, 0, 0));
        Write("b/readme.txt", "x"u8.ToArray());
        var e = Assert.Throws<ArgumentException>(() => ImageFolder.Load(_dir));
        Assert.Contains(Path.Combine(_dir, "b"), e.Message);
        Assert.Contains("no images", e.Message);
    }

    [Fact]
    public void Folder_UndecodableImage_NamesTheFile()
    {
        Write("a/01.png", Png(28, 0, 0));
        Write("a/02.png", "garbage"u8.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_dir));
        Assert.Contains(Path.Combine(_dir, "a", "02.png"), e.Message);
    }

    [Fact]
    public void Folder_Missing_NamesThePath()
    {
        string missing = Path.Combine(_dir, "nope");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(missing));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void Folder_ClassTooSmallForTheSpec_NamesTheClass()
    {
        for (int i = 0; i < 3; i++) Write($"a/{i}.png", Png(28, 0, i));
        Write("b/0.png", Png(28, 1, 0));
        var source = ImageFolder.OpenSource(_dir);
        var e = Assert.Throws<ArgumentException>(() => source.Validate(new EpisodeSpec(2, 1, 1)));
        Assert.Contains("'b'", e.Message);
        Assert.Contains("has 1", e.Message);
    }
}
