using MetaCluster.Core.Models;

namespace MetaCluster.Core.Episodes;

/// <summary>
/// Few-shot sine-sequence forecasting (<c>--dataset sine-sequence</c>): each task is a sampled sinusoid
/// v_k = A·sin(ω·k·Δt − φ) with A ~ U[0.1, 5], ω ~ U[0.5, 2], φ ~ U[0, 2π], Δt = 0.25. The model reads a window of
/// <see cref="Window"/> consecutive values and predicts the next one. The support set is the windows of a short
/// prefix (K windows, every target inside the prefix); the query set is the Q windows that follow, whose targets are
/// the continuation the support set never showed (one-step-ahead, the true values fed back as in teacher forcing).
/// Inputs are [n, Window, 1], targets [n, 1].
/// </summary>
public sealed class SineSequenceSource : IEpisodeSource
{
    public const int Window = 8;
    public const double MinAmplitude = 0.1, MaxAmplitude = 5.0, MinFrequency = 0.5, MaxFrequency = 2.0, TimeStep = 0.25;

    public string Name => "sine-sequence";
    public TaskKind Kind => TaskKind.Regression;
    public IReadOnlyList<long> InputShape { get; } = [Window, 1];

    public void Validate(EpisodeSpec spec)
    {
        spec.Validate();
        if (spec.Ways != 1) throw new ArgumentException($"sine-sequence forecasting has no classes: ways must be 1 (got {spec.Ways}).");
    }

    public Episode Sample(EpisodeSpec spec, long index, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        double amplitude = rng.NextDouble(MinAmplitude, MaxAmplitude);
        double frequency = rng.NextDouble(MinFrequency, MaxFrequency);
        double phase = rng.NextDouble(0, 2 * Math.PI);
        int windows = spec.Shots + spec.Queries;
        var values = new float[windows + Window];
        for (int k = 0; k < values.Length; k++) values[k] = (float)(amplitude * Math.Sin(frequency * k * TimeStep - phase));
        var x = new float[windows * Window];
        var y = new float[windows];
        for (int w = 0; w < windows; w++)
        {
            values.AsSpan(w, Window).CopyTo(x.AsSpan(w * Window));
            y[w] = values[w + Window];
        }
        return new Episode(index, TaskKind.Regression, 1,
            TensorData.Copy(x.AsSpan(0, spec.Shots * Window), [spec.Shots, Window, 1]), TensorData.Copy(y.AsSpan(0, spec.Shots), [spec.Shots, 1]),
            TensorData.Copy(x.AsSpan(spec.Shots * Window), [spec.Queries, Window, 1]), TensorData.Copy(y.AsSpan(spec.Shots), [spec.Queries, 1]));
    }
}
