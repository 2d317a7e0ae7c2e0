namespace Trapeze.Devices;

/// <summary>Checks shared by the register windows: access sizes and alignment as QEMU's memory core
/// applies them (an access is valid only if its size is allowed and it is naturally aligned).</summary>
public static class MmioAccess
{
    /// <summary>True if <paramref name="size"/> is a power of two in [min, max], the access is naturally
    /// aligned, and it lies wholly inside a window of <paramref name="windowSize"/> bytes.</summary>
    public static bool IsValid(ulong offset, int size, int minSize, int maxSize, ulong windowSize)
    {
        if (size < minSize || size > maxSize) return false;
        if (size != 1 && size != 2 && size != 4 && size != 8) return false;
        if ((offset & (ulong)(size - 1)) != 0) return false;
        return offset < windowSize && (ulong)size <= windowSize - offset;
    }

    /// <summary>The low <paramref name="size"/> bytes of <paramref name="value"/>.</summary>
    public static ulong Truncate(ulong value, int size) =>
        size >= 8 ? value : value & ((1UL << (size * 8)) - 1);
}
