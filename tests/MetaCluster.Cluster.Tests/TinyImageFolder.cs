namespace MetaCluster.Cluster.Tests;

/// <summary>
/// A few-shot image folder in a temp directory (DIR/classNN/imageN.bmp, 28×28 24-bit BMPs of seeded noise), for the
/// cluster tests of the image-classification algorithms. Deleted on dispose.
/// </summary>
public sealed class TinyImageFolder : IDisposable
{
    public const int Side = 28;

    /// <param name="dir">Where to write the classes (default a new temp folder).</param>
    public TinyImageFolder(int classes = 4, int imagesPerClass = 3, int seed = 1, string? dir = null)
    {
        Dir = dir ?? Path.Combine(Path.GetTempPath(), $"mc-folder-{Guid.NewGuid():N}");
        var random = new Random(seed);
        for (int c = 0; c < classes; c++)
        {
            string classDir = Path.Combine(Dir, $"class{c:00}");
            Directory.CreateDirectory(classDir);
            for (int i = 0; i < imagesPerClass; i++)
            {
                var gray = new byte[Side * Side];
                random.NextBytes(gray);
                File.WriteAllBytes(Path.Combine(classDir, $"image{i}.bmp"), Bmp(gray));
            }
        }
    }

    public string Dir { get; }

    /// <summary>An uncompressed 24-bit bottom-up BMP of a grey Side×Side image (rows of 84 bytes need no padding).</summary>
    private static byte[] Bmp(byte[] gray)
    {
        const int header = 54, row = Side * 3;
        var bytes = new byte[header + row * Side];
        void Int(int offset, int value) => BitConverter.GetBytes(value).CopyTo(bytes, offset);
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        Int(2, bytes.Length);
        Int(10, header);
        Int(14, 40);
        Int(18, Side);
        Int(22, Side);
        BitConverter.GetBytes((short)1).CopyTo(bytes, 26);
        BitConverter.GetBytes((short)24).CopyTo(bytes, 28);
        Int(34, row * Side);
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
                bytes.AsSpan(header + (Side - 1 - y) * row + 3 * x, 3).Fill(gray[y * Side + x]);
        return bytes;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
    }
}
