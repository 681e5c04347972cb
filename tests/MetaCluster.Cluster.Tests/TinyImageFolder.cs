using MetaCluster.Core.Episodes;
using MetaCluster.Core.Tests;

namespace MetaCluster.Cluster.Tests;

/// <summary>A folder dataset written for a test: a few classes of random 28×28 grayscale PNGs, one sub-folder each.</summary>
internal static class TinyImageFolder
{
    public static string Create(int classes, int imagesPerClass, ulong seed)
    {
        string dir = Reference.NewDirectory();
        var rng = new DeterministicRandom(seed);
        for (int c = 0; c < classes; c++)
        {
            string classDir = Directory.CreateDirectory(Path.Combine(dir, $"class{c:D2}")).FullName;
            for (int i = 0; i < imagesPerClass; i++)
            {
                var pixels = new byte[28 * 28];
                for (int p = 0; p < pixels.Length; p++) pixels[p] = (byte)rng.NextInt(256);
                File.WriteAllBytes(Path.Combine(classDir, $"{i:D2}.png"), TestPng.Encode(pixels, 28, 28));
            }
        }
        return dir;
    }
}
