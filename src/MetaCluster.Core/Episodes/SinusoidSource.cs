using MetaCluster.Core.Models;
using static TorchSharp.torch;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// Few-shot sinusoid regression (Finn et al. 2017): y = A·sin(x − φ) with A ~ U[0.1, 5.0], φ ~ U[0, π],
/// x ~ U[−5, 5]; K support and Q query points, each [n, 1].
/// </summary>
public sealed class SinusoidSource : IEpisodeSource
{
    public const double MinAmplitude = 0.1, MaxAmplitude = 5.0, MinX = -5.0, MaxX = 5.0;

    public string Name => "sinusoid";
    public TaskKind Kind => TaskKind.Regression;
    public IReadOnlyList<long> InputShape { get; } = [1];

    public void Validate(EpisodeSpec spec) => ValidateRegression(spec);

    public Episode Sample(EpisodeSpec spec, long index, ulong seed) =>
        Sample(spec, index, seed, MinAmplitude, MaxAmplitude, 0, Math.PI);

    /// <summary>
    /// A task with A ~ U[minAmplitude, maxAmplitude] and φ ~ U[minPhase, maxPhase] (x as above): the whole
    /// distribution here, a federated client's sub-ranges in <see cref="Federated.SinusoidClientSource"/>.
    /// </summary>
    internal static Episode Sample(EpisodeSpec spec, long index, ulong seed,
        double minAmplitude, double maxAmplitude, double minPhase, double maxPhase)
    {
        var rng = new DeterministicRandom(seed);
        double amplitude = rng.NextDouble(minAmplitude, maxAmplitude);
        double phase = rng.NextDouble(minPhase, maxPhase);
        int n = spec.Shots + spec.Queries;
        var x = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (float)rng.NextDouble(MinX, MaxX);
            y[i] = (float)(amplitude * Math.Sin(x[i] - phase));
        }
        // Copied into libtorch-owned tensors: torch.tensor(float[]) pins the array and calls back into .NET to unpin it
        // when the tensor dies, which costs more than sampling a small episode does.
        return new Episode(index, TaskKind.Regression, 1,
            TensorData.Copy(x.AsSpan(0, spec.Shots), [spec.Shots, 1]), TensorData.Copy(y.AsSpan(0, spec.Shots), [spec.Shots, 1]),
            TensorData.Copy(x.AsSpan(spec.Shots), [spec.Queries, 1]), TensorData.Copy(y.AsSpan(spec.Shots), [spec.Queries, 1]));
    }

    /// <summary>Sinusoid tasks have one output and no classes.</summary>
    internal static void ValidateRegression(EpisodeSpec spec)
    {
        spec.Validate();
        if (spec.Ways != 1) throw new ArgumentException($"sinusoid regression has no classes: ways must be 1 (got {spec.Ways}).");
    }
}
