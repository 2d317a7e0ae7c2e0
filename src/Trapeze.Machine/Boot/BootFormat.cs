using System.Globalization;

namespace Trapeze.Machine.Boot;

/// <summary>Small helpers shared by the boot-image parsers: message formatting and overflow-safe ranges.</summary>
internal static class BootFormat
{
    public const ulong MiB = 1024 * 1024;
    public const ulong GiB = 1024 * MiB;

    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>Half-open range for messages: <c>[0x80000000, 0x80045ac8)</c>.</summary>
    public static string Range(ulong start, ulong end) => $"[{Hex(start)}, {Hex(end)})";

    /// <summary>True when <c>[offset, offset + size)</c> lies inside a file of <paramref name="length"/> bytes,
    /// computed without overflow whatever the values read from the file.</summary>
    public static bool FitsInFile(ulong offset, ulong size, int length) =>
        offset <= (ulong)length && size <= (ulong)length - offset;

    /// <summary>True when two non-empty half-open ranges share at least one byte.</summary>
    public static bool Overlaps(ulong aStart, ulong aEnd, ulong bStart, ulong bEnd) =>
        aStart < bEnd && bStart < aEnd;

    /// <summary>Throws the "does not fit in RAM" error when <c>[start, start + size)</c> leaves RAM.</summary>
    public static void CheckInRam(string displayName, ulong start, ulong size, ulong ramBase, ulong ramEnd)
    {
        if (start < ramBase)
        {
            throw BootImageException.For(displayName,
                $"does not fit in RAM: needs {Hex(size)} bytes at {Hex(start)}, RAM starts at {Hex(ramBase)}");
        }

        if (start > ramEnd || size > ramEnd - start)
        {
            throw BootImageException.For(displayName,
                $"does not fit in RAM: needs {Hex(size)} bytes at {Hex(start)}, RAM ends at {Hex(ramEnd)}");
        }
    }

    /// <summary>RAM end (exclusive); the board's values, so a wrap is a programming error, not a file error.</summary>
    public static ulong RamEnd(ulong ramBase, ulong ramSize)
    {
        if (ramSize == 0 || ramSize > ulong.MaxValue - ramBase)
        {
            throw new ArgumentOutOfRangeException(nameof(ramSize),
                $"RAM {Hex(ramBase)} + {Hex(ramSize)} is empty or wraps the address space");
        }

        return ramBase + ramSize;
    }
}
