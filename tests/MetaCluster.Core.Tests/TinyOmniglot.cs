using System.IO.Compression;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Test scaffolding: a miniature Omniglot in a temp folder with the official zip layout — background: 2 alphabets ×
/// 3 characters, evaluation: 1 alphabet × 2 characters, 4 drawings each, as real 105×105 1-bit PNGs. Drawing d of
/// character g (g counts characters in sorted order, 0..7) is white with a black 13×13 square at row 13g, column 13d,
/// so every decoded image can be traced back to its character and drawing.
/// </summary>
internal sealed class TinyOmniglot : IDisposable
{
    public const int Size = 105, Block = 13, Drawings = 4;

    public static readonly string[] Classes =
    [
        "images_background/Alpha/character01", "images_background/Alpha/character02", "images_background/Alpha/character03",
        "images_background/Beta/character01", "images_background/Beta/character02", "images_background/Beta/character03",
        "images_evaluation/Zeta/character01", "images_evaluation/Zeta/character02",
    ];

    public TinyOmniglot()
    {
        Dir = Path.Combine(Path.GetTempPath(), "mc-omniglot-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        foreach (string root in new[] { "images_background", "images_evaluation" })
        {
            var entries = new List<(string, byte[])>();
            for (int g = 0; g < Classes.Length; g++)
            {
                if (!Classes[g].StartsWith(root + "/", StringComparison.Ordinal)) continue;
                for (int d = 0; d < Drawings; d++)
                    entries.Add(($"{Classes[g]}/{g + 1:0000}_{d + 1:00}.png", TestPng.Encode(Square(g, d), Size, Size, bitDepth: 1)));
            }
            entries.Reverse(); // the reader must sort, not trust the archive's order
            WriteZip(Path.Combine(Dir, root + ".zip"), entries);
        }
    }

    public string Dir { get; }

    /// <summary>White 105×105 image with a black square at (13g, 13d).</summary>
    public static byte[] Square(int g, int d)
    {
        var gray = Enumerable.Repeat((byte)255, Size * Size).ToArray();
        for (int r = Block * g; r < Block * (g + 1); r++)
            for (int c = Block * d; c < Block * (d + 1); c++)
                gray[r * Size + c] = 0;
        return gray;
    }

    /// <summary>Which (character, drawing) an unrotated decoded image shows, from its ink centroid.</summary>
    public static (int Character, int Drawing) Identify(ReadOnlySpan<float> image, int side)
    {
        double mass = 0, rows = 0, cols = 0;
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++)
            {
                float v = image[r * side + c];
                mass += v;
                rows += v * (r + 0.5);
                cols += v * (c + 0.5);
            }
        double scale = (double)Size / side;
        return ((int)Math.Round((rows / mass * scale - Block / 2.0) / Block), (int)Math.Round((cols / mass * scale - Block / 2.0) / Block));
    }

    /// <summary>Writes a zip with directory entries for every folder, as the official archives have.</summary>
    public static void WriteZip(string path, IEnumerable<(string Name, byte[] Bytes)> files)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        var dirs = new HashSet<string>();
        foreach (var (name, bytes) in files)
        {
            for (int slash = name.IndexOf('/'); slash >= 0; slash = name.IndexOf('/', slash + 1))
                if (dirs.Add(name[..(slash + 1)])) zip.CreateEntry(name[..(slash + 1)]);
            using var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
            s.Write(bytes);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
