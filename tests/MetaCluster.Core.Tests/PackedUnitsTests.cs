using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class PackedUnitsTests
{
    [Fact]
    public void EveryWidthRoundTripsEveryLengthIncludingItsExtremes()
    {
        var rng = new DeterministicRandom(11);
        for (int width = 1; width <= 8; width++)
        {
            long max = width == 8 ? long.MaxValue : (1L << (8 * width - 1)) - 1, min = -max - 1;
            // Lengths 0–40 cover the two-at-a-time path, its odd tails and the byte-by-byte end; 1031 a longer run.
            foreach (int length in Enumerable.Range(0, 41).Append(1031))
            {
                var units = Enumerable.Range(0, length).Select(i => (i % 5) switch
                {
                    0 => max, 1 => min, 2 => -1L, 3 => 0L,
                    _ => (long)(rng.NextDouble(-1, 1) * max),
                }).ToArray();
                var packed = new byte[length * width + PackedUnits.Slack];
                Array.Fill(packed, (byte)0xA5); // slack bytes must not leak into the units
                PackedUnits.Pack(units, width, packed);
                var back = new long[length];
                PackedUnits.Unpack(packed.AsSpan(0, length * width), width, back);
                Assert.True(units.SequenceEqual(back), $"width {width}, length {length}");
                // Each unit is its low bytes, little endian: the first unit's bytes spelled out by hand.
                if (length > 0) Assert.Equal(BitConverter.GetBytes(units[0])[..width], packed[..width]);
            }
        }
    }

    [Fact]
    public void TheWidthIsTheFewestBytesThatHoldTheLargestMagnitudeWithItsSign()
    {
        Assert.Equal(1, PackedUnits.Width([]));
        Assert.Equal(1, PackedUnits.Width([0, 0, 0]));
        Assert.Equal(1, PackedUnits.Width([127, -128, 5]));
        Assert.Equal(2, PackedUnits.Width([128]));
        Assert.Equal(2, PackedUnits.Width([0, 0, 0, 0, 0, -129])); // past a vector's lanes
        Assert.Equal(6, PackedUnits.Width([(1L << 47) - 1, -(1L << 47)]));
        Assert.Equal(7, PackedUnits.Width([1L << 47]));
        Assert.Equal(8, PackedUnits.Width([long.MinValue]));
    }
}
