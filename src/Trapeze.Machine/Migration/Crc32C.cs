using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Trapeze.Machine.Migration;

/// <summary>
/// CRC-32C (Castagnoli, the polynomial of iSCSI and ext4 metadata), which x86 (SSE4.2) and ARMv8 compute in
/// hardware: every migration frame carries one, so checking a stream of hundreds of megabytes costs little.
/// </summary>
public static class Crc32C
{
    private const uint Polynomial = 0x82f63b78; // reflected 0x1edc6f41

    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC of <paramref name="data"/> continuing from <paramref name="crc"/> (start with 0).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        if (Sse42.X64.IsSupported)
        {
            ulong c = crc;
            ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
            foreach (ulong w in words) c = Sse42.X64.Crc32(c, w);
            crc = (uint)c;
            data = data[(words.Length * 8)..];
        }
        else if (Crc32.Arm64.IsSupported)
        {
            ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
            foreach (ulong w in words) crc = Crc32.Arm64.ComputeCrc32C(crc, w);
            data = data[(words.Length * 8)..];
        }
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
        return ~crc;
    }

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            t[i] = c;
        }
        return t;
    }
}
