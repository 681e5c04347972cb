using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace MetaCluster.Core.Tests;

/// <summary>
/// Test scaffolding: a minimal PNG encoder (grayscale 1-bit or 8-bit, or 8-bit RGB; no interlace, filter 0 on every row)
/// so the tests can write real PNGs for the decoder to read without any image-writing package.
/// </summary>
internal static class TestPng
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Encodes gray values 0..255 (row-major, height × width); with bitDepth 1 a value ≥ 128 is white.</summary>
    public static byte[] Encode(byte[] gray, int width, int height, int bitDepth = 8) => Encode(gray, width, height, bitDepth, channels: 1);

    /// <summary>Encodes interleaved 8-bit RGB (row-major, height × width × 3) as a colour PNG (colour type 2).</summary>
    public static byte[] EncodeRgb(byte[] rgb, int width, int height) => Encode(rgb, width, height, 8, channels: 3);

    private static byte[] Encode(byte[] gray, int width, int height, int bitDepth, int channels)
    {
        if (gray.Length != width * height * channels) throw new ArgumentException("pixel count does not match the size");
        int rowValues = width * channels;
        int rowBytes = bitDepth == 1 ? (width + 7) / 8 : rowValues;
        var raw = new byte[height * (rowBytes + 1)];
        for (int y = 0; y < height; y++)
        {
            int row = y * (rowBytes + 1); // raw[row] = 0: filter type None
            for (int x = 0; x < rowValues; x++)
            {
                byte v = gray[y * rowValues + x];
                if (bitDepth == 8) raw[row + 1 + x] = v;
                else if (v >= 128) raw[row + 1 + x / 8] |= (byte)(0x80 >> (x % 8));
            }
        }

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)(channels == 3 ? 2 : 0); // colour type 2 (RGB) or 0 (grayscale); compression/filter/interlace 0

        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);

        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        s.Write(header);
        s.Write(data);
        uint crc = Crc32(header.AsSpan(4), 0xFFFFFFFFu);
        crc = Crc32(data, crc) ^ 0xFFFFFFFFu;
        var tail = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes, uint crc)
    {
        foreach (byte b in bytes) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
