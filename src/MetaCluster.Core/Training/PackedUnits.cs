using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MetaCluster.Core.Training;

/// <summary>
/// 64-bit integers stored in their low w bytes (1 ≤ w ≤ 8), little endian, two's complement — the body of an exact
/// sum's wire form (<see cref="ExactSum.WriteTo"/>). Two units at a time go through one 16-byte byte shuffle, so packing
/// and unpacking stay near the cost of a copy (the scalar loops were 3–4× slower than the 8-byte form's plain copy).
/// </summary>
public static class PackedUnits
{
    /// <summary>The fewest bytes that hold every unit, sign included (1 for all zeros).</summary>
    public static int Width(ReadOnlySpan<long> units)
    {
        // OR of each unit's magnitude bits (u for u ≥ 0, ~u for u < 0: the bits a two's complement needs besides its sign).
        var bits = Vector<long>.Zero;
        int i = 0;
        for (; i <= units.Length - Vector<long>.Count; i += Vector<long>.Count)
        {
            var u = new Vector<long>(units.Slice(i));
            bits |= u ^ Vector.ShiftRightArithmetic(u, 63);
        }
        long all = 0;
        for (int lane = 0; lane < Vector<long>.Count; lane++) all |= bits[lane];
        for (; i < units.Length; i++) all |= units[i] ^ (units[i] >> 63);
        int needed = 64 - BitOperations.LeadingZeroCount((ulong)all) + 1; // + the sign bit
        return Math.Clamp((needed + 7) / 8, 1, 8);
    }

    /// <summary>Bytes <see cref="Pack"/> may write past <c>units.Length · width</c> (then overwritten or unused): a target needs this slack.</summary>
    public const int Slack = 16;

    /// <summary>
    /// Writes each unit's low <paramref name="width"/> bytes to <paramref name="target"/>, which must hold
    /// <c>units.Length · width + <see cref="Slack"/></c> bytes; the units must fit the width (<see cref="Width"/>).
    /// </summary>
    public static void Pack(ReadOnlySpan<long> units, int width, Span<byte> target)
    {
        if (target.Length < units.Length * width + Slack) throw new ArgumentException("the target lacks room for the packed units and the slack.");
        if (width == sizeof(long))
        {
            MemoryMarshal.AsBytes(units).CopyTo(target);
            return;
        }
        ref byte start = ref MemoryMarshal.GetReference(target);
        int j = 0;
        if (Vector128.IsHardwareAccelerated && BitConverter.IsLittleEndian)
        {
            // Units j and j + 1 → bytes [j·w, j·w + 2w) of a 16-byte store (the rest is zeros the next store overwrites).
            var take = PackShuffles[width];
            for (; j + 2 <= units.Length; j += 2)
                Vector128.Shuffle(Vector128.Create(units[j], units[j + 1]).AsByte(), take).StoreUnsafe(ref start, (nuint)(j * width));
        }
        // (In bounds: unit j writes 8 bytes from j·w, inside units.Length · w + Slack.)
        for (; j < units.Length; j++) Unsafe.WriteUnaligned(ref Unsafe.Add(ref start, j * width), LittleEndian(units[j]));
    }

    /// <summary>Reads <c>packed.Length / width</c> units from their low <paramref name="width"/> bytes into <paramref name="units"/>, sign-extended.</summary>
    public static void Unpack(ReadOnlySpan<byte> packed, int width, Span<long> units)
    {
        int n = packed.Length / width;
        if (units.Length < n) throw new ArgumentException("the units buffer is shorter than the packed units.");
        if (width == sizeof(long))
        {
            MemoryMarshal.Cast<byte, long>(packed[..(n * sizeof(long))]).CopyTo(units);
            return;
        }
        ref byte start = ref MemoryMarshal.GetReference(packed);
        int j = 0;
        if (Vector128.IsHardwareAccelerated && BitConverter.IsLittleEndian)
        {
            // A 16-byte load at j·w holds units j and j + 1 (2w ≤ 14 bytes); the shuffle puts each in its own 8-byte lane,
            // zero-extended, and (v ^ s) − s with s = 2^(8w−1) extends the sign (no 64-bit arithmetic shift before AVX-512).
            var spread = UnpackShuffles[width];
            var sign = Vector128.Create(1L << (8 * width - 1));
            for (; j + 2 <= n && j * width + Vector128<byte>.Count <= packed.Length; j += 2)
            {
                var lanes = Vector128.Shuffle(Vector128.LoadUnsafe(ref start, (nuint)(j * width)), spread).AsInt64();
                ((lanes ^ sign) - sign).StoreUnsafe(ref MemoryMarshal.GetReference(units), (nuint)j);
            }
        }
        int shift = 64 - 8 * width;
        // 8-byte reads where 8 bytes remain (the next units' bytes are shifted out); the last few byte by byte.
        int whole = packed.Length >= sizeof(long) ? (packed.Length - sizeof(long)) / width + 1 : 0;
        for (; j < Math.Min(whole, n); j++)
            units[j] = LittleEndian(Unsafe.ReadUnaligned<long>(ref Unsafe.Add(ref start, j * width))) << shift >> shift;
        for (; j < n; j++)
        {
            long raw = 0;
            for (int b = width - 1; b >= 0; b--) raw = (raw << 8) | packed[j * width + b];
            units[j] = raw << shift >> shift;
        }
    }

    /// <summary>Byte shuffles by width: lane bytes [0, w) and [8, 8 + w) to [0, w) and [w, 2w); index 0x80 gives 0.</summary>
    private static readonly Vector128<byte>[] PackShuffles = Shuffles((width, p) => p < width ? p : p < 2 * width ? 8 + p - width : 0x80);

    /// <summary>Byte shuffles by width: bytes [0, w) and [w, 2w) to lanes [0, w) and [8, 8 + w), the lanes' other bytes 0.</summary>
    private static readonly Vector128<byte>[] UnpackShuffles = Shuffles((width, p) => p % 8 < width ? p / 8 * width + p % 8 : 0x80);

    private static Vector128<byte>[] Shuffles(Func<int, int, int> index) =>
        Enumerable.Range(0, 9).Select(width => width == 0 ? default
            : Vector128.Create(Enumerable.Range(0, 16).Select(p => (byte)index(width, p)).ToArray())).ToArray();

    /// <summary>The wire form is little endian: a no-op on x64 and arm64 (the JIT drops the branch).</summary>
    private static long LittleEndian(long value) => BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
}
