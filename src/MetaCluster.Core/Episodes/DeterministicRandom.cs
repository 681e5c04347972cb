namespace MetaCluster.Core.Episodes;

/// <summary>
/// xoshiro256** seeded through SplitMix64. We carry our own generator instead of System.Random because
/// .NET documents that System.Random's sequence may change between versions, and a run's episodes must be
/// the same bits on every machine, runtime and worker that computes them.
/// </summary>
public sealed class DeterministicRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public DeterministicRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>Derives an independent seed from a base seed and a path of integers (run, stream, episode…).</summary>
    public static ulong DeriveSeed(ulong seed, params long[] path)
    {
        ulong x = seed;
        ulong h = SplitMix64(ref x);
        foreach (long p in path)
        {
            x = h ^ (ulong)p;
            h = SplitMix64(ref x);
        }
        return h;
    }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public double NextDouble(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, exclusiveMax), without modulo bias (Lemire's method).</summary>
    public int NextInt(int exclusiveMax)
    {
        if (exclusiveMax <= 0) throw new ArgumentOutOfRangeException(nameof(exclusiveMax));
        ulong bound = (ulong)exclusiveMax;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            UInt128 m = (UInt128)r * bound;
            if ((ulong)m >= threshold) return (int)(m >> 64);
        }
    }

    /// <summary>The first <paramref name="count"/> entries of a uniformly random permutation of 0..n-1.</summary>
    public int[] SampleWithoutReplacement(int n, int count)
    {
        if (count > n) throw new ArgumentOutOfRangeException(nameof(count), $"cannot draw {count} distinct items from {n}");
        var pool = new int[n];
        for (int i = 0; i < n; i++) pool[i] = i;
        for (int i = 0; i < count; i++)
        {
            int j = i + NextInt(n - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        return pool[..count];
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
