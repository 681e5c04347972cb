using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class ExactSumTests
{
    private static float[][] Vectors(int count, int length, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        // Magnitudes from 1e-9 to 1e3: a spread where a float or double running sum depends on the order.
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length)
            .Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(10, rng.NextInt(13) - 9))).ToArray()).ToArray();
    }

    [Fact]
    public void AnyGroupingAndOrderGivesTheSameBits()
    {
        var vectors = Vectors(40, 1031, 1); // 1031: not a multiple of the SIMD width, so the scalar tail is covered too
        var straight = new ExactSum(1031);
        foreach (var v in vectors) straight.Add(v);
        var reference = straight.Mean();

        var rng = new DeterministicRandom(2);
        for (int trial = 0; trial < 5; trial++)
        {
            // Split into random partial sums (as workers would), add those in random order.
            var shuffled = vectors.OrderBy(_ => rng.NextUInt64()).ToArray();
            var partials = new List<ExactSum>();
            for (int start = 0; start < shuffled.Length;)
            {
                int size = 1 + rng.NextInt(9);
                var partial = new ExactSum(1031);
                foreach (var v in shuffled.Skip(start).Take(size)) partial.Add(v);
                partials.Add(ExactSum.FromBytes(partial.ToBytes())); // through the wire form
                start += size;
            }
            var total = new ExactSum(1031);
            foreach (var p in partials.OrderBy(_ => rng.NextUInt64())) total.Add(p);
            Assert.Equal(40, total.Count);
            Assert.Equal(reference, total.Mean());
        }

        // A plain float running sum does depend on the order here: the exact sum is doing real work.
        float Naive(IEnumerable<float[]> order, int i) => order.Aggregate(0f, (s, v) => s + v[i]);
        Assert.Contains(Enumerable.Range(0, 1031), i => Naive(vectors, i) != Naive(vectors.Reverse(), i));
    }

    [Fact]
    public void EveryValueBecomesItsFixedPointUnitsTruncatedTowardZero()
    {
        // The vector path converts small values with a floating-point trick and large ones the plain way: each value
        // must give trunc(v·2⁴⁰), the units a scalar cast gives, on both sides of the switch (2¹¹), at fractions of a
        // unit (ties included), for both signs, below one unit, and for subnormals.
        var rng = new DeterministicRandom(5);
        var special = new[]
        {
            0f, -0f, 2047.9999f, 2048f, -2048f, 2048.0002f, 8388607f, -8388607f, float.Epsilon, -float.Epsilon,
            MathF.ScaleB(1, -41), MathF.ScaleB(3, -41), -MathF.ScaleB(3, -41), MathF.ScaleB(5, -42), MathF.ScaleB(1, -40), -MathF.ScaleB(1, -40),
            1.5f * MathF.ScaleB(1, -40), -2.5f * MathF.ScaleB(1, -40), 1e-12f, -1e-12f, 0.1f, -0.1f, 1f / 3, -1f / 3, 1000.123f,
        };
        var values = special.Concat(Enumerable.Range(0, 4000)
            .Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(2, rng.NextInt(73) - 50)))).ToArray();
        var sum = new ExactSum(values.Length);
        sum.Add(values);
        var units = sum.Units;
        for (int i = 0; i < values.Length; i++)
            Assert.True(units[i] == (long)Math.Truncate(values[i] * 1099511627776.0), $"value {values[i]:R} at {i}: {units[i]} units");
        // Mixed vectors (one lane at or past the switch, the others small) take the plain path for the whole vector.
        var mixed = Enumerable.Range(0, 64).Select(i => i % 7 == 3 ? 4096.5f + i : MathF.ScaleB(i + 0.75f, -38)).ToArray();
        var mixedSum = new ExactSum(mixed.Length);
        mixedSum.Add(mixed);
        var mixedUnits = mixedSum.Units;
        for (int i = 0; i < mixed.Length; i++) Assert.Equal((long)Math.Truncate(mixed[i] * 1099511627776.0), mixedUnits[i]);
    }

    /// <summary>Vectors whose units all fit <paramref name="width"/> bytes (|units| below 2^(8·width − 1)), of both signs.</summary>
    private static float[][] VectorsOfWidth(int width, int count, int length, ulong seed)
    {
        var rng = new DeterministicRandom(seed);
        double largest = Math.ScaleB(1.0, 8 * width - 1 - ExactSum.FractionBits) / (count + 1);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length)
            .Select(_ => (float)(rng.NextDouble(-1, 1) * largest * Math.Pow(10, -rng.NextInt(4)))).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void AWireFormInPiecesAddsLikeOneInOneBlockWhereverThePiecesSplitAUnit(int width)
    {
        var vectors = width == 8 ? Vectors(3, 1031, 6).Select(v => v.Select(x => x * 4096).ToArray()).ToArray() : VectorsOfWidth(width, 3, 1031, 6);
        var share = new ExactSum(1031);
        foreach (var v in vectors) share.Add(v);
        Assert.Equal(width, share.WireWidth());
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        share.WriteTo(ref writer);
        Assert.Equal(share.ToBytes(), writer.WrittenSpan.ToArray());
        Assert.Equal(8 + width * 1031, share.ToBytes().Length);
        Assert.Equal(share.WireLength(), share.ToBytes().Length);

        var whole = new ExactSum(1031);
        whole.Add(vectors[0]);
        whole.Add(share);
        var fromBytes = new ExactSum(1031);
        fromBytes.Add(vectors[0]);
        fromBytes.AddBytes(share.ToBytes());
        Assert.Equal(whole.ToBytes(), fromBytes.ToBytes());
        foreach (int piece in new[] { 4096, 1000, 13, 7, 3 }) // 13, 7, 3: pieces that split the header and the units
        {
            var pieces = new ExactSum(1031);
            pieces.Add(vectors[0]);
            pieces.AddBytes(InPieces(share.ToBytes(), piece));
            Assert.Equal(whole.Count, pieces.Count);
            Assert.Equal(whole.ToBytes(), pieces.ToBytes());
        }
        var error = Assert.Throws<ArgumentException>(() => new ExactSum(1031).AddBytes(InPieces(share.ToBytes()[..^width], 100), "the share of slot 3"));
        Assert.Contains($"the share of slot 3 is {8 + width * 1030} bytes", error.Message);
    }

    [Fact]
    public void TheWireWidthIsTheFewestBytesThatHoldEveryUnitSignIncluded()
    {
        Assert.Equal(1, new ExactSum(5).WireWidth()); // nothing added: zeros
        for (int k = 1; k <= 7; k++)
        {
            // ±2^(8k−1) units: the negative one is the smallest k bytes hold, the positive one needs a byte more.
            float edge = MathF.ScaleB(1f, 8 * k - 1 - ExactSum.FractionBits);
            foreach (var (value, width) in new[] { (-edge, k), (edge, k + 1), (edge / 2, k) })
            {
                var sum = new ExactSum(4);
                sum.Add(new[] { 0f, 1e-12f, value, -3e-12f });
                Assert.True(width == sum.WireWidth(), $"value {value}: width {sum.WireWidth()}, expected {width}");
                var back = ExactSum.FromBytes(sum.ToBytes());
                Assert.Equal(sum.Mean(), back.Mean());
                Assert.Equal(sum.ToBytes(), back.ToBytes());
            }
        }
        var large = new ExactSum(2);
        large.Add(new[] { 8388607f, -8388607f });
        Assert.Equal(8, large.WireWidth());
        Assert.Equal(large.Mean(), ExactSum.FromBytes(large.ToBytes()).Mean());
    }

    /// <summary>The bytes as a sequence of pieces of <paramref name="size"/> bytes (the last one shorter).</summary>
    private static System.Buffers.ReadOnlySequence<byte> InPieces(byte[] bytes, int size)
    {
        var first = new Piece(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (int at = size; at < bytes.Length; at += size) last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        return new System.Buffers.ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Piece : System.Buffers.ReadOnlySequenceSegment<byte>
    {
        public Piece(ReadOnlyMemory<byte> memory, long runningIndex) => (Memory, RunningIndex) = (memory, runningIndex);

        public Piece Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Piece(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    [Fact]
    public void TheMeanIsTheTrueMeanToWithinTheFixedPointResolution()
    {
        var vectors = Vectors(25, 300, 3);
        var sum = new ExactSum(300);
        foreach (var v in vectors) sum.Add(v);
        var mean = sum.Mean();
        for (int i = 0; i < 300; i++)
        {
            decimal exact = vectors.Sum(v => (decimal)(double)v[i]) / 25;
            double tolerance = Math.Abs((double)exact) * 6e-8 + Math.Pow(2, -ExactSum.FractionBits);
            Assert.True(Math.Abs(mean[i] - (double)exact) <= tolerance, $"parameter {i}: {mean[i]} vs {exact}");
        }
    }

    [Fact]
    public void OverflowAndNonFiniteValuesAreReportedNeverWrapped()
    {
        var sum = new ExactSum(20);
        var huge = new float[20];
        huge[13] = 9e6f;
        var error = Assert.Throws<OverflowException>(() => sum.Add(huge, "episode 7"));
        Assert.Contains("episode 7", error.Message);
        Assert.Contains("parameter 13", error.Message);

        var infinite = new float[20];
        infinite[2] = float.PositiveInfinity;
        Assert.Contains("non-finite", Assert.Throws<OverflowException>(() => sum.Add(infinite)).Message);

        // Each value is in range, but the running total leaves it: reported as well.
        var big = Enumerable.Repeat(8e6f, 20).ToArray();
        var running = new ExactSum(20);
        running.Add(big);
        Assert.Contains("overflowed", Assert.Throws<OverflowException>(() => running.Add(big)).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(40)]
    [InlineData(4099)]
    public void TheWideAndThePortableVectorLoopsGiveTheSameBitsAndTheSameErrors(int length)
    {
        var rng = new DeterministicRandom((ulong)length + 11);
        // Magnitudes from 1e-13 (below a unit) to 2e6 (beyond the portable loop's fast conversion, 2^11): four of them
        // stay inside the exact range.
        var vectors = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, length)
            .Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(10, rng.NextInt(14) - 13) * (rng.NextInt(8) == 0 ? 1e6 : 1))).ToArray()).ToArray();
        var expected = new long[length];
        foreach (var v in vectors)
            for (int i = 0; i < length; i++) expected[i] += (long)((double)v[i] * (1L << ExactSum.FractionBits)); // by hand, one value at a time

        foreach (bool wide in new[] { true, false })
        {
            bool before = ExactSum.WideVectors;
            ExactSum.WideVectors = wide;
            try
            {
                var fresh = new ExactSum(length);
                var cleared = new ExactSum(length);
                cleared.Add(vectors[3]);
                cleared.Clear(); // its first add below writes rather than adds
                foreach (var v in vectors)
                {
                    fresh.Add(v);
                    cleared.Add(v);
                }
                Assert.Equal(expected, fresh.Units.ToArray());
                Assert.Equal(expected, cleared.Units.ToArray());
                if (length < 17) continue;

                // A value out of range in the vector part and in the scalar tail, a NaN, and a running total past 2^23.
                foreach (int at in new[] { 3, length - 1 })
                {
                    var huge = new float[length];
                    huge[at] = 9e6f;
                    var error = Assert.Throws<OverflowException>(() => new ExactSum(length).Add(huge, "episode 5"));
                    Assert.Contains($"parameter {at}", error.Message);
                    Assert.Contains("episode 5", error.Message);
                }
                var nan = new float[length];
                nan[length / 2] = float.NaN;
                Assert.Contains("non-finite", Assert.Throws<OverflowException>(() => new ExactSum(length).Add(nan)).Message);
                var big = new float[length];
                big[1] = 8e6f;
                var running = new ExactSum(length);
                running.Add(big);
                Assert.Contains("overflowed", Assert.Throws<OverflowException>(() => running.Add(big)).Message);
            }
            finally
            {
                ExactSum.WideVectors = before;
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnAddThatIsRefusedLeavesTheSumAsItWas(bool wide)
    {
        bool before = ExactSum.WideVectors;
        ExactSum.WideVectors = wide;
        try
        {
            var vectors = Vectors(3, 1031, 21);
            var sum = new ExactSum(1031);
            sum.Add(vectors[0]);
            sum.Add(vectors[1]);
            var held = sum.Units.ToArray();

            // Out of range late in the vector part, in the scalar tail, a NaN, and a running total that wraps at one unit.
            foreach (var (at, value) in new[] { (700, 9e6f), (1030, -9e6f), (300, float.NaN) })
            {
                var bad = (float[])vectors[2].Clone();
                bad[at] = value;
                Assert.Throws<OverflowException>(() => sum.Add(bad, "episode 9"));
                Assert.Equal(held, sum.Units.ToArray());
                Assert.Equal(2, sum.Count);
            }
            var big = new float[1031];
            big[500] = 8e6f;
            var nearTheTop = new ExactSum(1031);
            nearTheTop.Add(big);
            var top = nearTheTop.Units.ToArray();
            var wraps = (float[])vectors[2].Clone();
            wraps[500] = 8e6f;
            Assert.Contains("overflowed", Assert.Throws<OverflowException>(() => nearTheTop.Add(wraps)).Message);
            Assert.Equal(top, nearTheTop.Units.ToArray());
            Assert.Equal(1, nearTheTop.Count);

            // And the sum goes on as if nothing had been tried.
            sum.Add(vectors[2]);
            var fresh = new ExactSum(1031);
            foreach (var v in vectors) fresh.Add(v);
            Assert.Equal(fresh.Units.ToArray(), sum.Units.ToArray());
        }
        finally
        {
            ExactSum.WideVectors = before;
        }
    }

    [Fact]
    public void AClearedSumStartsOverWithNothingLeftOfThePreviousRound()
    {
        var reused = new ExactSum(3);
        reused.Add([1.5f, -2.25f, 7f]);
        reused.Add([0.125f, 3f, -1f]);
        reused.Clear();
        Assert.Equal(0, reused.Count);
        reused.Add([0.5f, 0.25f, -4f]);
        var fresh = new ExactSum(3);
        fresh.Add([0.5f, 0.25f, -4f]);
        Assert.Equal(fresh.ToBytes(), reused.ToBytes());
        Assert.Equal([0.5f, 0.25f, -4f], reused.Mean());
    }

    /// <summary>A sum of 1031 values that held large ones and was then cleared: its memory still holds them.</summary>
    private static ExactSum ClearedAfterARound()
    {
        var reused = new ExactSum(1031);
        foreach (var v in Vectors(3, 1031, 11)) reused.Add(v.Select(x => x * 1000).ToArray());
        reused.Clear();
        return reused;
    }

    [Fact]
    public void EveryFirstAddOntoAClearedSumGivesTheBitsOfAFreshSum()
    {
        // Clear only marks the units stale; the first add writes them (or, for the slower paths, zeroes them first).
        // Each way of adding — and of reading with nothing added — must match a sum that never held anything.
        var vectors = Vectors(2, 1031, 12);
        var share = new ExactSum(1031);
        share.Add(vectors[1]);
        var wire = share.ToBytes();
        var ways = new (string Name, Action<ExactSum> Add)[]
        {
            ("a vector", s => s.Add(vectors[0])),
            ("a vector, then a second", s => { s.Add(vectors[0]); s.Add(vectors[1]); }),
            ("a partial sum", s => s.Add(share)),
            ("wire bytes", s => s.AddBytes(wire)),
            ("wire bytes in pieces", s => s.AddBytes(InPieces(wire, 13))),
            ("a full-width wire form", s => s.AddBytes(FullWidth(wire))),
            ("a weighted vector", s => s.AddWeighted(vectors[0], 3)),
            ("a cleared partial sum", s => s.Add(ClearedAfterARound())),
            ("nothing", _ => { }),
        };
        foreach (var (name, add) in ways)
        {
            var (fresh, reused) = (new ExactSum(1031), ClearedAfterARound());
            add(fresh);
            add(reused);
            Assert.True(fresh.Count == reused.Count, name);
            Assert.True(fresh.Units.SequenceEqual(reused.Units), $"{name}: the cleared sum kept something of its last round");
            Assert.True(fresh.WireWidth() == reused.WireWidth(), name);
            if (fresh.Count > 0) Assert.True(fresh.Mean().AsSpan().SequenceEqual(reused.Mean()), name);
        }
        // Read before any add: zeros, width 1, and an 8 + 1031-byte wire form of count 0.
        var empty = ClearedAfterARound();
        Assert.Equal(new ExactSum(1031).ToBytes(), empty.ToBytes());
        Assert.All(empty.Units.ToArray(), u => Assert.Equal(0, u));
    }

    [Fact]
    public void AFirstAddThatFailsPartWayLeavesAClearedSumEmpty()
    {
        var bad = Vectors(1, 1031, 13)[0];
        bad[700] = float.NaN; // found after 700 values were converted
        var reused = ClearedAfterARound();
        Assert.Throws<OverflowException>(() => reused.Add(bad, "episode 4"));
        Assert.Equal(0, reused.Count);
        Assert.All(reused.Units.ToArray(), u => Assert.Equal(0, u));

        var share = new ExactSum(1031);
        share.Add(Vectors(1, 1031, 14)[0]);
        var wire = share.ToBytes()[..^1]; // one byte short
        var again = ClearedAfterARound();
        Assert.Throws<ArgumentException>(() => again.AddBytes(InPieces(wire, 100)));
        Assert.Equal(0, again.Count);
        Assert.All(again.Units.ToArray(), u => Assert.Equal(0, u));
    }

    /// <summary><paramref name="wire"/> re-encoded at 8 bytes a unit (the width that is added in place, without unpacking).</summary>
    private static byte[] FullWidth(byte[] wire)
    {
        var sum = ExactSum.FromBytes(wire);
        var full = new byte[8 + 8 * sum.Length];
        BitConverter.TryWriteBytes(full, sum.Count | (8L << 56));
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(sum.Units).CopyTo(full.AsSpan(8));
        return full;
    }

    [Fact]
    public void APartialSumAddedFromItsWireBytesGivesTheBitsOfAddingItAndABadLengthOrWidthIsNamed()
    {
        var vectors = Vectors(6, 1031, 3);
        var share = new ExactSum(1031);
        foreach (var v in vectors[..4]) share.Add(v);
        var (fromSum, fromBytes) = (new ExactSum(1031), new ExactSum(1031));
        foreach (var total in new[] { fromSum, fromBytes }) { total.Add(vectors[4]); total.Add(vectors[5]); }
        fromSum.Add(share);
        fromBytes.AddBytes(share.ToBytes());

        Assert.Equal(6, fromBytes.Count);
        Assert.Equal(fromSum.ToBytes(), fromBytes.ToBytes());
        int width = share.WireWidth();
        var shortWire = Assert.Throws<ArgumentException>(() => fromBytes.AddBytes(share.ToBytes().AsSpan(0, 8 + width * 1030), "slot 3's sum"));
        Assert.Contains($"slot 3's sum is {8 + width * 1030} bytes; an exact partial sum of 1031 values at {width} bytes a value is {8 + width * 1031}", shortWire.Message);
        var noWidth = share.ToBytes();
        BitConverter.TryWriteBytes(noWidth, 4L); // a bare count: the top byte (the width) is 0
        Assert.Contains("names 0 bytes a value", Assert.Throws<ArgumentException>(() => fromBytes.AddBytes(noWidth)).Message);
        noWidth[7] = 9;
        Assert.Contains("names 9 bytes a value", Assert.Throws<ArgumentException>(() => fromBytes.AddBytes(noWidth)).Message);
        Assert.Equal(fromSum.ToBytes(), fromBytes.ToBytes()); // refused wire forms left the sum as it was
    }

    [Fact]
    public void CheckRangeNamesANonFiniteOrHugeValueWithoutTouchingASum()
    {
        ExactSum.CheckRange(new float[] { 1e-3f, -8388607f }, "episode 1");
        var huge = Assert.Throws<OverflowException>(() => ExactSum.CheckRange(new float[] { 0, 9e6f }, "episode 2"));
        Assert.Contains("episode 2 holds 9000000 at parameter 1", huge.Message);
        Assert.Contains("diverged", Assert.Throws<OverflowException>(() => ExactSum.CheckRange(new[] { float.NaN }, "episode 3")).Message);
    }
}
