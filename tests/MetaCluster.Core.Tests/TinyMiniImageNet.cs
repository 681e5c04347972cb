namespace MetaCluster.Core.Tests;

/// <summary>
/// Test scaffolding: a miniature mini-ImageNet in a temp folder with the release's layout — DIR/images/ (flat) and
/// train.csv / val.csv / test.csv with a <c>filename,label</c> header — 6 train, 3 val and 3 test classes of
/// <see cref="PerClass"/> RGB PNGs. Image i of class k (k counts classes train, val, test in label order, 0..11) has
/// red = <see cref="Red"/>(k) everywhere, green = <see cref="Green"/>(i) everywhere and blue = the column index, so
/// every decoded pixel can be traced to its class, image and position. The first test class (k = 9) is written at
/// 96×90 instead of 84×84, with a constant blue of <see cref="ResizedBlue"/>, so its images go through the resize.
/// </summary>
internal sealed class TinyMiniImageNet : IDisposable
{
    public const int Size = 84, PerClass = 10, ResizedClass = 9, ResizedWidth = 96, ResizedHeight = 90;
    public const byte ResizedBlue = 7;
    public static readonly int[] SplitClasses = [6, 3, 3];

    public static byte Red(int k) => (byte)(20 + 10 * k);
    public static byte Green(int i) => (byte)(5 * i);

    /// <summary>Class k's label: n0100000k style, sorted in k order within each split.</summary>
    public static string Label(int k) => $"n{1_000_000 + k:00000000}";

    public TinyMiniImageNet()
    {
        Dir = Path.Combine(Path.GetTempPath(), "mc-mini-" + Guid.NewGuid().ToString("N"));
        string images = Path.Combine(Dir, "images");
        Directory.CreateDirectory(images);
        string[] csvs = ["train.csv", "val.csv", "test.csv"];
        int k = 0;
        for (int s = 0; s < csvs.Length; s++)
        {
            var lines = new List<string> { "filename,label" };
            for (int c = 0; c < SplitClasses[s]; c++, k++)
            {
                for (int i = 0; i < PerClass; i++)
                {
                    string file = $"{Label(k)}{i + 1:00000000}.png";
                    File.WriteAllBytes(Path.Combine(images, file), Png(k, i));
                    lines.Add($"{file},{Label(k)}");
                }
            }
            File.WriteAllLines(Path.Combine(Dir, csvs[s]), lines);
        }
    }

    public string Dir { get; }
    public string CacheDir => Path.Combine(Dir, "cache");

    private static byte[] Png(int k, int i)
    {
        bool resized = k == ResizedClass;
        int w = resized ? ResizedWidth : Size, h = resized ? ResizedHeight : Size;
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int p = (y * w + x) * 3;
                (rgb[p], rgb[p + 1], rgb[p + 2]) = (Red(k), Green(i), resized ? ResizedBlue : (byte)x);
            }
        return TestPng.EncodeRgb(rgb, w, h);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
