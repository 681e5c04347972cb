using MetaCluster.Core.Episodes;
using static TorchSharp.torch;

namespace MetaCluster.Core.Tests;

/// <summary>Small hand-made episodes for the algorithm tests.</summary>
internal static class TestEpisodes
{
    public static Episode Sinusoid(long index = 0, int shots = 5, int queries = 5, ulong seed = 7) =>
        new SinusoidSource().Sample(new EpisodeSpec(1, shots, queries), index, seed);

    /// <summary>Points around far-apart centres, one cluster per class: [n, 2] inputs, labels class-major.</summary>
    public static Episode Clusters(int ways, int shots, int queries, double spread, ulong seed, double radius = 10)
    {
        var rng = new DeterministicRandom(seed);
        (Tensor X, Tensor Y) Make(int perClass)
        {
            var x = new float[ways * perClass * 2];
            var y = new long[ways * perClass];
            for (int c = 0; c < ways; c++)
            {
                double angle = 2 * Math.PI * c / ways;
                for (int i = 0; i < perClass; i++)
                {
                    int row = c * perClass + i;
                    x[2 * row] = (float)(radius * Math.Cos(angle) + spread * rng.NextDouble(-1, 1));
                    x[2 * row + 1] = (float)(radius * Math.Sin(angle) + spread * rng.NextDouble(-1, 1));
                    y[row] = c;
                }
            }
            return (tensor(x, [ways * perClass, 2]), tensor(y));
        }
        var (sx, sy) = Make(shots);
        var (qx, qy) = Make(queries);
        return new Episode(0, TaskKind.Classification, ways, sx, sy, qx, qy);
    }

    /// <summary>Random small images for Conv4 checks: [n, 1, size, size], labels class-major.</summary>
    public static Episode Images(int ways, int shots, int queries, int size, ulong seed, long index = 0)
    {
        var rng = new DeterministicRandom(seed);
        (Tensor X, Tensor Y) Make(int perClass)
        {
            int n = ways * perClass;
            var x = new float[n * size * size];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
            var y = Enumerable.Range(0, n).Select(i => (long)(i / perClass)).ToArray();
            return (tensor(x, [n, 1, size, size]), tensor(y));
        }
        var (sx, sy) = Make(shots);
        var (qx, qy) = Make(queries);
        return new Episode(index, TaskKind.Classification, ways, sx, sy, qx, qy);
    }
}
