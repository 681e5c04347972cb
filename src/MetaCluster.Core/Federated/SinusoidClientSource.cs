using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;

namespace MetaCluster.Core.Federated;

/// <summary>
/// One sinusoid client's private task distribution: y = A·sin(x − φ) with A and φ drawn from the client's own
/// sub-ranges of Finn et al.'s A ∈ [0.1, 5], φ ∈ [0, π] (x ∈ [−5, 5] as there). Clients with different sub-ranges see
/// different tasks: a non-IID federation of regression tasks.
/// </summary>
public sealed class SinusoidClientSource(double minAmplitude, double maxAmplitude, double minPhase, double maxPhase) : IEpisodeSource
{
    /// <summary>Bands the amplitude and phase ranges are cut into; client i gets amplitude band i mod 5 and phase band (i div 5) mod 4.</summary>
    public const int AmplitudeBands = 5, PhaseBands = 4;

    public double MinAmplitude { get; } = minAmplitude;
    public double MaxAmplitude { get; } = maxAmplitude;
    public double MinPhase { get; } = minPhase;
    public double MaxPhase { get; } = maxPhase;

    public string Name => $"sinusoid A∈[{MinAmplitude:0.##}, {MaxAmplitude:0.##}] φ∈[{MinPhase:0.##}, {MaxPhase:0.##}]";
    public TaskKind Kind => TaskKind.Regression;
    public IReadOnlyList<long> InputShape { get; } = [1];

    /// <summary>Client <paramref name="index"/>'s sub-ranges (20 distinct distributions, repeated past 20 clients).</summary>
    public static SinusoidClientSource ForClient(int index)
    {
        int a = index % AmplitudeBands, p = index / AmplitudeBands % PhaseBands;
        double amplitudeWidth = (SinusoidSource.MaxAmplitude - SinusoidSource.MinAmplitude) / AmplitudeBands;
        double phaseWidth = Math.PI / PhaseBands;
        return new SinusoidClientSource(SinusoidSource.MinAmplitude + a * amplitudeWidth, SinusoidSource.MinAmplitude + (a + 1) * amplitudeWidth,
            p * phaseWidth, (p + 1) * phaseWidth);
    }

    public void Validate(EpisodeSpec spec) => SinusoidSource.ValidateRegression(spec);

    public Episode Sample(EpisodeSpec spec, long index, ulong seed) =>
        SinusoidSource.Sample(spec, index, seed, MinAmplitude, MaxAmplitude, MinPhase, MaxPhase);
}
