using System.Diagnostics;
using System.Text.Json.Nodes;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Models;
using MetaCluster.Core.Training;

namespace MetaCluster.Cli.Commands;

/// <summary>
/// <c>metacluster bench --aggregation</c>: how fast the coordinator's exact, order-free sum takes contributions of
/// a model's size (default: the 112,261 parameters of a 5-way Conv4), on one core, and what a round costs on the wire
/// with one vector per episode versus one pre-summed vector per worker.
/// </summary>
public static class AggregationBench
{
    public static JsonObject Run(int parameters, int contributions, int metaBatch, int workers)
    {
        var rng = new DeterministicRandom(1);
        // A few distinct vectors with meta-gradient-like magnitudes, reused: the sum's cost does not depend on the values.
        var vectors = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, parameters)
            .Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(10, rng.NextInt(6) - 5))).ToArray()).ToArray();
        var sum = new ExactSum(parameters);
        for (int i = 0; i < 16; i++) sum.Add(vectors[i % vectors.Length]); // warm-up (JIT, caches)
        sum = new ExactSum(parameters);
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < contributions; i++) sum.Add(vectors[i % vectors.Length]);
        _ = sum.Mean();
        double seconds = watch.Elapsed.TotalSeconds;

        long perEpisode = (long)metaBatch * parameters * sizeof(float);
        // A worker's share of the round as the wire carries it (a header and the fewest bytes a value that hold its units),
        // and what writing it and adding it from its bytes cost.
        var share = new ExactSum(parameters);
        for (int i = 0; i < Math.Max(1, metaBatch / workers); i++) share.Add(vectors[i % vectors.Length]);
        var wire = new System.Buffers.ArrayBufferWriter<byte>((int)share.WireLength() + 8);
        var scratch = new ExactSum(parameters);
        void Write()
        {
            wire.ResetWrittenCount();
            share.WriteTo(ref wire);
        }
        // 40 untimed calls first: past tiered compilation's first tier.
        double writeMs = MillisecondsEach(40, 50, Write);
        double addMs = MillisecondsEach(40, 50, () => scratch.AddBytes(wire.WrittenSpan));
        long preSummed = (long)workers * wire.WrittenCount;
        // A GPU node's slots adding into its one sum at once: behind one lock, and stripe by stripe.
        SharedAddsPerSecond(vectors, SharedAdders, SharedAdders * 4, striped: true); // warm-up
        double oneLock = SharedAddsPerSecond(vectors, SharedAdders, contributions, striped: false);
        double striped = SharedAddsPerSecond(vectors, SharedAdders, contributions, striped: true);
        return new JsonObject
        {
            ["bench"] = "aggregation",
            ["parameters"] = parameters,
            ["contributions"] = contributions,
            ["seconds"] = Math.Round(seconds, 4),
            ["contributions_per_s"] = Math.Round(contributions / seconds, 1),
            ["meta_batch"] = metaBatch,
            ["workers"] = workers,
            ["round_bytes_per_episode_vectors"] = perEpisode,
            ["round_bytes_presummed"] = preSummed,
            ["wire_bytes_per_value"] = share.WireWidth(),
            ["wire_write_ms"] = Math.Round(writeMs, 4),
            ["wire_add_ms"] = Math.Round(addMs, 4),
            ["shared_sum_adders"] = SharedAdders,
            ["shared_adds_per_s_one_lock"] = Math.Round(oneLock, 1),
            ["shared_adds_per_s_striped"] = Math.Round(striped, 1),
            ["cores"] = Environment.ProcessorCount,
            ["engine"] = "metacluster",
        };
    }

    /// <summary>Threads adding into one sum at once in the shared-sum figures: the slots of an 8-GPU node.</summary>
    private const int SharedAdders = 8;

    /// <summary>
    /// Adds a second when <paramref name="adders"/> threads add <paramref name="adds"/> vectors into one sum between them:
    /// each add under one lock (a silo hub's sum before the stripes), or into a <see cref="ConcurrentExactSum"/>.
    /// </summary>
    private static double SharedAddsPerSecond(float[][] vectors, int adders, int adds, bool striped)
    {
        var sum = new ExactSum(vectors[0].Length);
        var shared = striped ? new ConcurrentExactSum(sum) : null;
        var gate = new Lock();
        int next = -1;
        var threads = Enumerable.Range(0, adders).Select(_ => new Thread(() =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < adds;)
            {
                if (shared is not null) shared.Add(vectors[i % vectors.Length]);
                else lock (gate) sum.Add(vectors[i % vectors.Length]);
            }
        })).ToArray();
        var watch = Stopwatch.StartNew();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        shared?.Complete();
        return adds / watch.Elapsed.TotalSeconds;
    }

    /// <summary>Milliseconds one call of <paramref name="step"/> takes, over <paramref name="timed"/> calls after <paramref name="warmUp"/> untimed ones.</summary>
    private static double MillisecondsEach(int warmUp, int timed, Action step)
    {
        for (int i = 0; i < warmUp; i++) step();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < timed; i++) step();
        return watch.Elapsed.TotalMilliseconds / timed;
    }

    /// <summary>Parameters of the default model for the comparison: the MAML paper's 5-way Conv4.</summary>
    public static int DefaultParameters => new Conv4(classes: 5).Layout.TotalCount;
}
