using System.Buffers.Binary;
using System.Text;

namespace MetaCluster.Core.Tests;

/// <summary>One entry of an ELF file's .gnu.version_r: a symbol version it needs from a library, and where its flags live.</summary>
public sealed record ElfVersionNeed(string File, string Name, ushort Flags, long FlagsOffset)
{
    public const ushort WeakFlag = 0x2; // VER_FLG_WEAK
    public bool Weak => (Flags & WeakFlag) != 0;
}

/// <summary>Reads the version needs (SHT_GNU_verneed) of a 64-bit little-endian ELF file.</summary>
public static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;

    public static IReadOnlyList<ElfVersionNeed> Read(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || !elf.AsSpan(1, 3).SequenceEqual("ELF"u8))
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long sectionTable = I64(elf, 0x28);
        int entrySize = U16(elf, 0x3A), count = U16(elf, 0x3C);
        var needs = new List<ElfVersionNeed>();
        for (int i = 0; i < count; i++)
        {
            long header = sectionTable + (long)i * entrySize;
            if (U32(elf, header + 4) != ShtGnuVerneed) continue;
            long offset = I64(elf, header + 0x18);
            long strings = I64(elf, sectionTable + (long)U32(elf, header + 0x28) * entrySize + 0x18);
            for (long need = offset; ; )
            {
                string file = String(elf, strings + U32(elf, need + 4));
                long aux = need + U32(elf, need + 8);
                for (int a = 0, auxCount = U16(elf, need + 2); a < auxCount; a++)
                {
                    needs.Add(new ElfVersionNeed(file, String(elf, strings + U32(elf, aux + 8)), (ushort)U16(elf, aux + 4), aux + 4));
                    uint nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(elf, need + 12);
                if (next == 0) break;
                need += next;
            }
        }
        return needs;
    }

    private static int U16(byte[] b, long at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan((int)at));
    private static uint U32(byte[] b, long at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)at));
    private static long I64(byte[] b, long at) => BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan((int)at));

    private static string String(byte[] b, long at)
    {
        int end = Array.IndexOf(b, (byte)0, (int)at);
        return Encoding.ASCII.GetString(b, (int)at, end - (int)at);
    }
}
