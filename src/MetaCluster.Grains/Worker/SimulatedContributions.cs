using System.Diagnostics;
using MetaCluster.Core.Algorithms;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains.Worker;

/// <summary>
/// A stand-in for a GPU worker (metacluster-server --simulate-episode-ms D): each episode takes <see cref="PerEpisode"/>
/// of wall time without using a core (the slot's compute thread sleeps, as a CPU thread waiting on a GPU would), and
/// its contribution has the real model's size and deterministic values, so every byte the coordinator and the wire
/// handle is real. The values depend only on (run seed, episode index) — an episode index already names its round
/// (round × meta-batch + i) — so θ has the same bits for any worker count or arrival order, as with the real algorithm.
/// A contribution is a rotation of one pseudo-random vector per run — a window into the vector written twice, so no
/// copy and no per-value hashing — and the worker spends its core on the wire and the exact sum, as a GPU worker's host
/// would, not on making up numbers.
/// </summary>
public sealed class SimulatedContributions(TimeSpan perEpisode) : IContributionSource
{
    /// <summary>Largest |value| of a contribution: gradient-sized, so Adam's steps and θ stay ordinary.</summary>
    public const float Magnitude = 1e-3f;

    private (ulong Seed, float[] Values)? _base;
    private readonly Lock _baseLock = new();

    public TimeSpan PerEpisode { get; } = perEpisode >= TimeSpan.Zero ? perEpisode
        : throw new ArgumentException($"the simulated episode time must be 0 or more (got {perEpisode.TotalMilliseconds} ms).");

    public IReadOnlyList<Contribution> Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample)
    {
        var contributions = new List<Contribution>(episodes.Count);
        Contribute(run, theta, episodes, sample, (episode, values, metrics) => contributions.Add(new Contribution(episode, values.ToArray(), metrics)));
        return contributions;
    }

    public void Contribute(TrainingRun run, ParameterSet theta, IReadOnlyList<long> episodes, Func<long, Episode> sample, ContributionSink sink)
    {
        ulong seed = run.Config.Seed;
        int count = theta.Layout.TotalCount;
        var twice = BaseVectorTwice(seed, count);
        // One clock for the share: episode i is ready at start + (i + 1)·D, so sleeps that overshoot do not add up.
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < episodes.Count; i++)
        {
            long episode = episodes[i];
            ulong hash = DeterministicRandom.DeriveSeed(seed, episode);
            var remaining = PerEpisode * (i + 1) - clock.Elapsed;
            // Whole milliseconds rounded up: Sleep(TimeSpan) rounds down, and a share could end up to 1 ms early.
            if (remaining > TimeSpan.Zero) Thread.Sleep((int)Math.Ceiling(remaining.TotalMilliseconds));
            // A loss in [0, 1) from the episode's hash: the round's mean is deterministic too.
            sink(episode, twice.AsSpan((int)(hash % (ulong)count), count), new EpisodeMetrics(null, (hash >> 11) * (1.0 / (1UL << 53)), null, null));
        }
    }

    /// <summary>
    /// The run's pseudo-random vector in (−<see cref="Magnitude"/>, <see cref="Magnitude"/>), made once per (seed, size)
    /// and written twice in a row: the rotation by k is the window [k, k + size).
    /// </summary>
    private float[] BaseVectorTwice(ulong seed, int count)
    {
        lock (_baseLock)
        {
            if (_base is { } b && b.Seed == seed && b.Values.Length == 2 * count) return b.Values;
            var values = new float[2 * count];
            ulong state = DeterministicRandom.DeriveSeed(seed, count);
            for (int j = 0; j < count; j++)
            {
                state = state * 6364136223846793005UL + 1442695040888963407UL; // a 64-bit LCG; its top bits are good enough here
                values[j] = values[count + j] = ((int)(state >> 40) - (1 << 23)) * (Magnitude / (1 << 23));
            }
            _base = (seed, values);
            return values;
        }
    }
}
