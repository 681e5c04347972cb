using System.Buffers;
using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

/// <summary>Adds from many threads at once, stripe by stripe: the bits of one add after another, whole or nothing.</summary>
public class ConcurrentExactSumTests
{
    /// <summary>Three stripes, the last one short and not a multiple of a vector width.</summary>
    private const int Length = 2 * ConcurrentExactSum.StripeValues + 1031;

    private static float[] Vector(int i)
    {
        var rng = new DeterministicRandom((ulong)i + 1);
        // Magnitudes from 1e-9 to 1e2: where a float running sum would depend on the order.
        return Enumerable.Range(0, Length).Select(_ => (float)(rng.NextDouble(-1, 1) * Math.Pow(10, rng.NextInt(12) - 9))).ToArray();
    }

    private static ExactSum OneAfterAnother(IEnumerable<int> vectors)
    {
        var sum = new ExactSum(Length);
        foreach (int i in vectors) sum.Add(Vector(i));
        return sum;
    }

    /// <summary>A pooled sum as a hub gets it: cleared, its units still holding an earlier round's sum.</summary>
    private static ExactSum Cleared()
    {
        var sum = OneAfterAnother([900, 901]);
        sum.Clear();
        return sum;
    }

    [Fact]
    public async Task ManyThreadsAddingAtOnceGiveTheBitsOfOneAddAfterAnother()
    {
        var vectors = Enumerable.Range(0, 48).Select(Vector).ToArray();
        foreach (var start in new[] { Cleared(), new ExactSum(Length) })
        {
            var shared = new ConcurrentExactSum(start);
            // Four adders, twelve vectors each, at once: they meet on the stripes in every order.
            await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                for (int i = t; i < vectors.Length; i += 4) shared.Add(vectors[i], $"vector {i}");
            })));
            var sum = shared.Complete();
            Assert.Same(start, sum);
            Assert.Equal(48, sum.Count);
            Assert.Equal(OneAfterAnother(Enumerable.Range(0, 48)).Units.ToArray(), sum.Units.ToArray());
            Assert.Throws<InvalidOperationException>(() => shared.Add(vectors[0])); // completed: it takes nothing more
        }
    }

    [Fact]
    public void ARefusedVectorIsTakenOutOfEveryStripeItHadReached()
    {
        var shared = new ConcurrentExactSum(Cleared());
        shared.Add(Vector(1));
        // Each add starts one stripe further on, so a bad value in stripe 0, 1 or 2 is met first, second or third:
        // the stripes added before it must come out again, and the message names the parameter as the whole vector counts it.
        foreach (int stripe in new[] { 0, 1, 2, 2, 1, 0 })
        {
            var bad = Vector(2);
            int at = stripe * ConcurrentExactSum.StripeValues + 7;
            bad[at] = stripe == 1 ? float.NaN : 1e7f;
            var error = Assert.Throws<OverflowException>(() => shared.Add(bad, "episode 2"));
            Assert.Contains($"episode 2 holds", error.Message);
            Assert.Contains($"at parameter {at}", error.Message);
        }
        shared.Add(Vector(3));
        var sum = shared.Complete();
        Assert.Equal(2, sum.Count);
        Assert.Equal(OneAfterAnother([1, 3]).Units.ToArray(), sum.Units.ToArray());
    }

    [Fact]
    public void ARunningTotalLeavingTheRangeIsUndoneLikeARefusedValue()
    {
        var big = new float[Length];
        big[ConcurrentExactSum.StripeValues + 3] = 5e6f; // in range alone; twice, beyond 2^23
        var shared = new ConcurrentExactSum(new ExactSum(Length));
        shared.Add(big);
        shared.Add(Vector(4));
        for (int i = 0; i < 3; i++) // from each stripe on
            Assert.Contains("overflowed the exact sum", Assert.Throws<OverflowException>(() => shared.Add(big, "episode 9")).Message);
        var expected = new ExactSum(Length);
        expected.Add(big);
        expected.Add(Vector(4));
        var sum = shared.Complete();
        Assert.Equal(expected.Units.ToArray(), sum.Units.ToArray());
        Assert.Equal(2, sum.Count);
    }

    [Fact]
    public void StripesNoVectorReachedAreZeroedAndASumNothingGotIntoStaysEmpty()
    {
        // The only add is refused in its last stripe: the stripes before it were written (the sum was cleared) and
        // taken out again, the last was never written and still holds the earlier round's units.
        var shared = new ConcurrentExactSum(Cleared());
        var bad = Vector(5);
        bad[Length - 1] = float.PositiveInfinity;
        Assert.Throws<OverflowException>(() => shared.Add(bad));
        var sum = shared.Complete();
        Assert.Equal(0, sum.Count);
        Assert.Equal(new long[Length], sum.Units.ToArray());

        var untouched = new ConcurrentExactSum(Cleared()).Complete();
        Assert.Equal(0, untouched.Count);
        Assert.Equal(new long[Length], untouched.Units.ToArray());
    }

    /// <summary>A wire form in pieces of <paramref name="piece"/> bytes, as pooled message buffers hold it: chunks and stripes span pieces.</summary>
    private static ReadOnlySequence<byte> InPieces(byte[] bytes, int piece)
    {
        Piece first = new(bytes.AsMemory(0, Math.Min(piece, bytes.Length))), last = first;
        for (int at = piece; at < bytes.Length; at += piece) last = last.Append(bytes.AsMemory(at, Math.Min(piece, bytes.Length - at)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Piece : ReadOnlySequenceSegment<byte>
    {
        public Piece(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Piece Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Piece(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }

    [Fact]
    public async Task PartialSumsAndVectorsArrivingTogetherGoInSideBySideWithTheBitsOfOneAfterAnother()
    {
        // Six partial sums of four vectors each, in pieces of 1,000 bytes, and 12 more vectors, from four threads at once.
        var partials = Enumerable.Range(0, 6).Select(p => InPieces(OneAfterAnother(Enumerable.Range(100 + 4 * p, 4)).ToBytes(), 1000)).ToArray();
        var shared = new ConcurrentExactSum(Cleared());
        long held = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int p = t; p < partials.Length; p += 4) Interlocked.Add(ref held, shared.AddBytes(partials[p], $"partial {p}"));
            for (int i = t; i < 12; i += 4) shared.Add(Vector(i));
        })));
        Assert.Equal(24, held);
        var sum = shared.Complete();
        Assert.Equal(36, sum.Count);
        Assert.Equal(OneAfterAnother(Enumerable.Range(100, 24).Concat(Enumerable.Range(0, 12))).Units.ToArray(), sum.Units.ToArray());
    }

    [Fact]
    public void APartialSumGoesInWithEveryStripeAndSaysHowManyVectorsItHeld()
    {
        var partial = OneAfterAnother([7, 8, 9]);
        var shared = new ConcurrentExactSum(Cleared());
        shared.Add(Vector(6));
        Assert.Equal(3, shared.AddBytes(new ReadOnlySequence<byte>(partial.ToBytes()), "member b/hub"));
        shared.Add(Vector(10));
        var sum = shared.Complete();
        Assert.Equal(5, sum.Count);
        Assert.Equal(OneAfterAnother([6, 7, 8, 9, 10]).Units.ToArray(), sum.Units.ToArray());

        // Onto a cleared sum nothing else reached: the stale units are zeroed first, not added to.
        var first = new ConcurrentExactSum(Cleared());
        Assert.Equal(3, first.AddBytes(new ReadOnlySequence<byte>(partial.ToBytes())));
        Assert.Equal(partial.Units.ToArray(), first.Complete().Units.ToArray());
    }

    [Fact]
    public void APartialSumThatDoesNotHoldWhatItNamesOrIsMalformedIsRefusedBeforeAnythingIsAdded()
    {
        var partial = OneAfterAnother([7, 8, 9]);
        var wire = partial.ToBytes();
        foreach (var start in new[] { Cleared(), new ExactSum(Length) })
        {
            var shared = new ConcurrentExactSum(start);
            shared.Add(Vector(6));
            var named = Assert.Throws<PartialSumRefusedException>(() => shared.AddBytes(new ReadOnlySequence<byte>(wire), "member b/hub", expected: 2));
            Assert.Equal("member b/hub names 2 episodes but holds 3 contributions.", named.Message);
            var cut = Assert.Throws<PartialSumRefusedException>(() => shared.AddBytes(new ReadOnlySequence<byte>(wire[..^1]), "member c/hub", expected: 3));
            Assert.Contains("member c/hub is", cut.Message);
            Assert.Equal(3, shared.AddBytes(new ReadOnlySequence<byte>(wire), "member d/hub", expected: 3));
            var sum = shared.Complete();
            Assert.Equal(4, sum.Count);
            Assert.Equal(OneAfterAnother([6, 7, 8, 9]).Units.ToArray(), sum.Units.ToArray());
        }
    }
}
