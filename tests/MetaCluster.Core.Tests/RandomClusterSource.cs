using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Generated few-shot classification where nothing carries over between episodes but how to learn: each episode
/// draws its own class centres in [−1, 1]^dim and examples around them, so a label means something only within its
/// episode and a learner must use the support set (memory, an inner loop) to beat chance.
/// </summary>
internal sealed class RandomClusterSource(int dimensions, double noise = 0.15) : IEpisodeSource
{
    public string Name => $"random-clusters-{dimensions}d";
    public TaskKind Kind => TaskKind.Classification;
    public IReadOnlyList<long> InputShape => [dimensions];

    public void Validate(EpisodeSpec spec) => spec.Validate();

    public Episode Sample(EpisodeSpec spec, long index, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        var centres = new double[spec.Ways, dimensions];
        for (int c = 0; c < spec.Ways; c++)
            for (int d = 0; d < dimensions; d++) centres[c, d] = rng.NextDouble(-1, 1);
        (TorchSharp.torch.Tensor X, TorchSharp.torch.Tensor Y) Make(int perClass)
        {
            int n = spec.Ways * perClass;
            var x = new float[n * dimensions];
            var y = new long[n];
            for (int i = 0; i < n; i++)
            {
                y[i] = i / perClass;
                for (int d = 0; d < dimensions; d++) x[i * dimensions + d] = (float)(centres[y[i], d] + noise * rng.NextDouble(-1, 1));
            }
            return (TensorData.Copy(x, [n, dimensions]), TorchSharp.torch.tensor(y));
        }
        var (sx, sy) = Make(spec.Shots);
        var (qx, qy) = Make(spec.Queries);
        return new Episode(index, TaskKind.Classification, spec.Ways, sx, sy, qx, qy);
    }
}
